#include "server/http_server.h"

#include <cpp-httplib/httplib.h>

#include "api/openai.h"
#include "core/log.h"
#include "server/anthropic_routes.h"
#include "server/model_routes.h"
#include "server/ollama_routes.h"
#include "server/openai_routes.h"
#include "server/utility_routes.h"

namespace kiln::server {

HttpServer::HttpServer(router::Router & router, ModelLister list_models, ServerOptions options)
    : router_(router), list_models_(std::move(list_models)), options_(std::move(options)),
      http_(std::make_unique<httplib::Server>()) {
    // Idle keep-alive connections must not hold up shutdown for long.
    http_->set_keep_alive_timeout(2);
    http_->set_payload_max_length(64u * 1024 * 1024);
    register_routes();
}

HttpServer::~HttpServer() = default;

void HttpServer::register_routes() {
    auto json_error = [](httplib::Response & res, const Error & e) {
        auto r     = api::openai::error_response(e);
        res.status = r.status;
        res.set_content(r.body, "application/json");
    };

    http_->Get("/health", [](const httplib::Request &, httplib::Response & res) {
        res.set_content(R"({"status":"ok"})", "application/json");
    });
    install_access(*http_, options_.access);
    register_openai_routes(*http_, router_, list_models_);
    register_model_routes(*http_, router_);
    register_anthropic_routes(*http_, router_);
    register_utility_routes(*http_, router_);
    if (options_.store) register_ollama_routes(*http_, router_, list_models_, options_.store->home);
    if (options_.store) register_store_routes(*http_, *options_.store);

    http_->set_error_handler([json_error](const httplib::Request & req, httplib::Response & res) {
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
    http_->set_exception_handler([json_error](const httplib::Request &, httplib::Response & res, std::exception_ptr ep) {
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
    http_->set_logger([](const httplib::Request & req, const httplib::Response & res) {
        log::debug("{} {} -> {}", req.method, req.path, res.status);
    });
}

Result<int> HttpServer::bind() {
    int port = options_.port;
    if (port == 0) {
        port = http_->bind_to_any_port(options_.host);
    } else if (!http_->bind_to_port(options_.host, port)) {
        port = -1;
    }
    if (port < 0) {
        return make_error(ErrorCode::io, "cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                                             " (address in use or not available); choose another with --port");
    }
    return port;
}

Status HttpServer::run() {
    // A stop() that lands between bind() and here makes listen fail at once;
    // that is a requested stop, not an error.
    if (!http_->listen_after_bind() && !stop_requested_.load()) {
        return make_error(ErrorCode::io, "the server stopped with an error");
    }
    return {};
}

void HttpServer::stop() {
    stop_requested_.store(true);
    http_->stop();
}

}  // namespace kiln::server
