// cpp-httplib's types as server/ headers name them, declared without its
// (large) header: each .cpp that uses them includes <cpp-httplib/httplib.h>.
#pragma once

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib
