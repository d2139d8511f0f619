#include "server/http_server.h"

#include <cerrno>
#include <thread>

#include <cpp-httplib/httplib.h>

#include "api/openai.h"
#include "core/log.h"
#include "server/anthropic_routes.h"
#include "server/connections.h"
#include "server/lmstudio_routes.h"
#include "server/model_routes.h"
#include "server/ollama_routes.h"
#include "server/openai_routes.h"
#include "server/reply.h"
#include "server/responses_routes.h"
#include "server/utility_routes.h"

namespace kiln::server {

HttpServer::HttpServer(router::Router & router, ModelLister list_models, ServerOptions options)
    : router_(router), list_models_(std::move(list_models)), options_(std::move(options)),
      responses_(std::make_unique<ResponseStore>()) {
    if (options_.store) downloads_ = std::make_unique<DownloadJobs>(*options_.store);
    listeners_.push_back({options_.host, options_.port, nullptr});
    for (const auto & [host, port] : options_.also) listeners_.push_back({host, port, nullptr});
    for (auto & l : listeners_) {
        l.http = std::make_unique<GuardedServer>(options_.limits, connections_);
        l.http->set_payload_max_length(64u * 1024 * 1024);
        register_routes(*l.http, loopback_host(l.host));
    }
}

HttpServer::~HttpServer() = default;

void HttpServer::register_routes(httplib::Server & http, bool loopback) {
    auto json_error = [](httplib::Response & res, const Error & e) { send_error(res, api::Family::openai, e); };

    http.Get("/health", [](const httplib::Request &, httplib::Response & res) {
        res.set_content(R"({"status":"ok"})", "application/json");
    });
    AccessOptions access = options_.access;
    access.loopback_bind = loopback;
    install_access(http, std::move(access));
    register_openai_routes(http, router_, list_models_);
    register_model_routes(http, router_, *connections_);
    register_anthropic_routes(http, router_);
    register_responses_routes(http, router_, *responses_);
    register_lmstudio_routes(http, router_, list_models_, *responses_);
    register_utility_routes(http, router_);
    if (options_.store) register_ollama_routes(http, router_, list_models_, options_.store->home);
    if (options_.store) register_store_routes(http, *options_.store, *downloads_);

    http.set_error_handler([json_error](const httplib::Request & req, httplib::Response & res) {
        if (!res.body.empty()) return;  // a handler already wrote an error body
        if (res.status == 404) {
            json_error(res, make_error(ErrorCode::not_found, "no route for " + req.method + " " + req.path));
        } else if (res.status == 413) {
            json_error(res, make_error(ErrorCode::invalid_request, "the request body is larger than 64 MiB"));
            res.status = 413;
        } else if (res.status >= 400) {
            Error e = make_error(res.status >= 500 ? ErrorCode::internal : ErrorCode::invalid_request,
                                 "HTTP " + std::to_string(res.status));
            const int status = res.status;
            json_error(res, e);
            res.status = status;
        }
    });
    http.set_exception_handler([json_error](const httplib::Request &, httplib::Response & res, std::exception_ptr ep) {
        std::string what = "unknown error";
        try {
            std::rethrow_exception(ep);
        } catch (const std::exception & e) {
            what = e.what();
        } catch (...) {
        }
        log::error("request handler failed: {}", what);
        json_error(res, make_error(ErrorCode::internal, "internal error"));
    });
    http.set_logger([](const httplib::Request & req, const httplib::Response & res) {
        log::debug("{} {} -> {}", req.method, req.path, res.status);
    });
}

Result<int> HttpServer::bind() {
    for (auto & l : listeners_) {
        const int asked = l.port;
        l.port          = asked == 0 ? l.http->bind_to_any_port(l.host) : (l.http->bind_to_port(l.host, asked) ? asked : -1);
        if (l.port < 0) {
            const bool in_use = errno == EADDRINUSE;
            const std::string where = l.host + ":" + std::to_string(asked);
            return make_error(ErrorCode::io, in_use ? "cannot listen on " + where +
                                                          ": the port is in use (another kiln, or Ollama?); stop that "
                                                          "server or choose another port with --port or --listen"
                                                    : "cannot listen on " + where +
                                                          " (no such address here, or not allowed); choose another with "
                                                          "--host, --port or --listen");
        }
    }
    return listeners_.front().port;
}

std::vector<std::string> HttpServer::urls() const {
    std::vector<std::string> out;
    for (const auto & l : listeners_) {
        const bool v6 = l.host.find(':') != std::string::npos;
        out.push_back("http://" + (v6 ? "[" + l.host + "]" : l.host) + ":" + std::to_string(l.port));
    }
    return out;
}

Status HttpServer::run() {
    // The other addresses on threads of their own; the main one here.
    std::vector<std::thread> others;
    for (size_t i = 1; i < listeners_.size(); ++i) {
        others.emplace_back([this, i] { listeners_[i].http->listen_after_bind(); });
    }
    // A stop() that lands between bind() and here makes listen fail at once;
    // that is a requested stop, not an error.
    const bool ok = listeners_.front().http->listen_after_bind();
    for (size_t i = 1; i < listeners_.size(); ++i) listeners_[i].http->stop();
    for (auto & t : others) t.join();
    if (!ok && !stop_requested_.load()) return make_error(ErrorCode::io, "the server stopped with an error");
    return {};
}

void HttpServer::stop() {
    stop_requested_.store(true);
    for (auto & l : listeners_) l.http->stop();
}

}  // namespace kiln::server
