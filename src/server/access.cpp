#include "server/access.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <cpp-httplib/httplib.h>

#include "api/errors.h"
#include "core/utf8.h"
#include "server/reply.h"
#include "store/url.h"

namespace kiln::server {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

// "host:port", "[v6]:port", "host" -> the host, lower case, without brackets.
std::string host_only(std::string_view h) {
    h = trim(h);
    std::string_view host = h;
    if (!h.empty() && h.front() == '[') {
        const size_t close = h.find(']');
        host               = h.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
    } else if (const size_t colon = h.rfind(':'); colon != std::string_view::npos && h.find(':') == colon) {
        host = h.substr(0, colon);  // one colon: a port; more: a bare IPv6 address
    }
    std::string out = utf8::ascii_lower(host);
    if (!out.empty() && out.back() == '.') out.pop_back();
    return out;
}

bool loopback_name(const std::string & host) {
    if (host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1") return true;
    if (host.size() > 10 && host.compare(host.size() - 10, 10, ".localhost") == 0) return true;
    if (host.rfind("127.", 0) != 0) return false;
    int dots = 0;
    for (char c : host) {
        if (c == '.') ++dots;
        else if (c < '0' || c > '9') return false;
    }
    return dots == 3;
}

bool listed(const std::string & value, const std::vector<std::string> & list) {
    for (const auto & item : list) {
        if (utf8::ascii_lower(item) == value) return true;
    }
    return false;
}

void refuse(const httplib::Request & req, httplib::Response & res, ErrorCode code, const std::string & message) {
    if (code == ErrorCode::unauthorized) res.set_header("WWW-Authenticate", "Bearer");
    send_error(res, api::family_of(req.path), make_error(code, message));
}

std::string given_key(const httplib::Request & req) {
    const std::string auth = req.get_header_value("Authorization");
    if (auth.size() > 7 && utf8::ascii_lower(auth.substr(0, 7)) == "bearer ") return std::string(trim(auth.substr(7)));
    return std::string(trim(req.get_header_value("x-api-key")));
}

}  // namespace

bool loopback_host(std::string_view host_header) { return loopback_name(host_only(host_header)); }

bool origin_allowed(std::string_view origin, const AccessOptions & o) {
    const std::string lower = utf8::ascii_lower(trim(origin));
    if (listed("*", o.cors_origins) || listed(lower, o.cors_origins)) return true;
    // scheme://host[:port], nothing after (an Origin has no path, not even "/").
    const auto url = store::parse_url(lower);
    if (!url || (url->scheme != "http" && url->scheme != "https")) return false;
    if (lower.find('/', lower.find("://") + 3) != std::string::npos || !url->query.empty() || !url->fragment.empty() ||
        !url->user.empty()) {
        return false;
    }
    return loopback_name(host_only(url->host));
}

bool key_matches(std::string_view given, const std::vector<std::string> & keys) {
    bool match = false;
    for (const auto & key : keys) {
        // Constant time in the key's content: every byte of the longer of the two is looked at.
        const size_t  n    = std::max(key.size(), given.size());
        unsigned char diff = key.size() == given.size() ? 0 : 1;
        for (size_t i = 0; i < n; ++i) {
            const unsigned char a = i < key.size() ? static_cast<unsigned char>(key[i]) : 0;
            const unsigned char b = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
            diff |= static_cast<unsigned char>(a ^ b);
        }
        match |= diff == 0 && !key.empty();
    }
    return match;
}

Result<std::vector<std::string>> load_api_keys(const std::string & list, const std::string & file) {
    std::vector<std::string> keys = utf8::split_list(list);
    if (!file.empty()) {
        std::ifstream in(file);
        if (!in) return make_error(ErrorCode::invalid_request, "cannot read the API keys file " + file);
        std::string line;
        size_t      found = 0;
        while (std::getline(in, line)) {
            if (const size_t hash = line.find('#'); hash != std::string::npos) line.erase(hash);
            const auto key = trim(line);
            if (key.empty()) continue;
            keys.emplace_back(key);
            ++found;
        }
        if (found == 0) return make_error(ErrorCode::invalid_request, "the API keys file " + file + " holds no key");
    }
    return keys;
}

namespace {

// A bucket per key holding up to `per_minute` units, refilled evenly: one
// unit a request (take), or an answer's tokens after it ends (charge, which
// may leave the bucket in debt).
class RateLimiter {
  public:
    explicit RateLimiter(int32_t per_minute) : rate_(per_minute / 60.0), capacity_(per_minute) {}
    // 0 when `need` units are there (and taken), else the seconds until they would be.
    int take(const std::string & who, double need = 1.0) {
        std::lock_guard lock(mutex_);
        Bucket & b = refill(who);
        if (b.units >= need) {
            b.units -= need;
            return 0;
        }
        if (buckets_.size() > 100000) buckets_.clear();  // bounded memory; a reset forgives everyone
        return std::max(1, static_cast<int>(std::ceil((need - b.units) / rate_)));
    }
    void charge(const std::string & who, double units) {
        std::lock_guard lock(mutex_);
        refill(who).units -= units;
    }

  private:
    struct Bucket {
        double                                units;
        std::chrono::steady_clock::time_point at;
    };
    Bucket & refill(const std::string & who) {
        const auto now   = std::chrono::steady_clock::now();
        auto [it, fresh] = buckets_.try_emplace(who, Bucket{capacity_, now});
        Bucket & b       = it->second;
        b.units          = std::min(capacity_, b.units + std::chrono::duration<double>(now - b.at).count() * rate_);
        b.at             = now;
        return b;
    }
    std::mutex                              mutex_;
    double                                  rate_;
    double                                  capacity_;
    std::unordered_map<std::string, Bucket> buckets_;
};

// Whose bucket a request draws on: its key, or its address without keys.
std::string who(const httplib::Request & req, const AccessOptions & o) {
    return o.api_keys.empty() ? "addr " + req.remote_addr : "key " + given_key(req);
}

// The token limit of the server in this process (one serve per process),
// for answers that end long after their request passed the access check.
struct TokenMeter {
    std::shared_ptr<const AccessOptions> options;
    std::shared_ptr<RateLimiter>         limiter;
};
std::mutex &  meter_mutex() {
    static std::mutex m;
    return m;
}
TokenMeter & meter() {
    static TokenMeter m;
    return m;
}

}  // namespace

std::function<void(int64_t)> token_charger(const httplib::Request & req) {
    TokenMeter m;
    {
        std::lock_guard lock(meter_mutex());
        m = meter();
    }
    if (!m.limiter) return [](int64_t) {};
    return [limiter = m.limiter, account = who(req, *m.options)](int64_t tokens) {
        if (tokens > 0) limiter->charge(account, static_cast<double>(tokens));
    };
}

void install_access(httplib::Server & http, AccessOptions options) {
    auto o       = std::make_shared<const AccessOptions>(std::move(options));
    auto limiter = o->rate_limit > 0 ? std::make_shared<RateLimiter>(o->rate_limit) : nullptr;
    auto tokens  = o->token_limit > 0 ? std::make_shared<RateLimiter>(o->token_limit) : nullptr;
    {
        std::lock_guard lock(meter_mutex());
        if (tokens || !meter().limiter) meter() = {o, tokens};
    }
    http.set_pre_routing_handler([o, limiter, tokens](const httplib::Request & req, httplib::Response & res) {
        using R = httplib::Server::HandlerResponse;
        if (o->loopback_bind) {
            const std::string host = host_only(req.get_header_value("Host"));
            if (!loopback_name(host) && !listed(host, o->allowed_hosts)) {
                refuse(req, res, ErrorCode::forbidden,
                       "Host '" + host + "' is not served here (add it with --allowed-hosts)");
                return R::Handled;
            }
        }
        const std::string origin = req.get_header_value("Origin");
        if (!origin.empty()) {
            if (!origin_allowed(origin, *o)) {
                refuse(req, res, ErrorCode::forbidden,
                       "origin '" + origin + "' may not use this server (allow it with --cors-origins)");
                return R::Handled;
            }
            const bool any = listed("*", o->cors_origins);
            res.set_header("Access-Control-Allow-Origin", any ? "*" : origin);
            if (!any) res.set_header("Vary", "Origin");
            if (req.method == "OPTIONS" && req.has_header("Access-Control-Request-Method")) {
                res.status = 204;
                res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
                const std::string asked = req.get_header_value("Access-Control-Request-Headers");
                res.set_header("Access-Control-Allow-Headers",
                               asked.empty() ? "Authorization, Content-Type, x-api-key" : asked);
                res.set_header("Access-Control-Max-Age", "600");
                return R::Handled;
            }
        }
        const bool open_route = req.path == "/health" || (req.method == "GET" && req.path == "/");
        if (!o->api_keys.empty() && !open_route && !key_matches(given_key(req), o->api_keys)) {
            refuse(req, res, ErrorCode::unauthorized,
                   req.has_header("Authorization") || req.has_header("x-api-key")
                       ? "the API key is not valid"
                       : "an API key is required: send 'Authorization: Bearer KEY' or 'x-api-key: KEY'");
            return R::Handled;
        }
        if (limiter && !open_route) {
            if (const int wait = limiter->take(who(req, *o)); wait > 0) {
                refuse(req, res, ErrorCode::rate_limited,
                       "more than " + std::to_string(o->rate_limit) + " requests a minute; try again in " +
                           std::to_string(wait) + " s");
                res.set_header("Retry-After", std::to_string(wait));
                return R::Handled;
            }
        }
        // In debt (tokens used beyond the limit): wait until the bucket has some again.
        if (tokens && !open_route && req.method == "POST") {
            if (const int wait = tokens->take(who(req, *o), 0.0); wait > 0) {
                refuse(req, res, ErrorCode::rate_limited,
                       "more than " + std::to_string(o->token_limit) + " tokens a minute; try again in " +
                           std::to_string(wait) + " s");
                res.set_header("Retry-After", std::to_string(wait));
                return R::Handled;
            }
        }
        return R::Unhandled;
    });
}

}  // namespace kiln::server
