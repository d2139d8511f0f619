// URLs through libcurl's parser (curl_url) and escaper: what kiln builds,
// compares and checks, with no parsing of its own.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace kiln::store {

// Percent-encodes every byte but ALPHA, DIGIT and -._~ (a query value, or
// one segment of a path).
std::string url_escape(std::string_view s);
// Each '/'-separated segment escaped, the slashes kept.
std::string url_escape_path(std::string_view path);

// The parts of an absolute URL, as libcurl reads them. scheme and host in
// lower case (an IPv6 host keeps its brackets); port as written, or the
// scheme's default; path "/" when there is none.
struct UrlParts {
    std::string scheme, host, port, path, query, fragment, user;
};
// An error (invalid_request) for anything libcurl does not take as an
// absolute URL of a scheme it knows.
Result<UrlParts> parse_url(std::string_view url);
// "https://U@HF.co/x" -> "hf.co:443": host and port, lower case, the
// scheme's default port filled in (so https://h and https://h:443 are the
// same place, and http://h is not); empty if not an absolute URL.
std::string url_authority(std::string_view url);

}  // namespace kiln::store
