#include "server/utility_routes.h"

#include <cpp-httplib/httplib.h>

#include "api/openai.h"
#include "api/utility.h"
#include "server/channel_io.h"
#include "server/openai_routes.h"

namespace kiln::server {
namespace {

namespace utility = api::utility;

}  // namespace

void register_utility_routes(httplib::Server & http, router::Router & router) {
    http.Post("/tokenize", [&router](const httplib::Request & req, httplib::Response & res) {
        auto call = utility::parse_tokenize(req.body);
        if (!call) return send_openai_error(res, call.error());
        auto lease = lease_model(router, call->model, req);
        if (!lease) return send_openai_error(res, lease.error());
        auto & backend = (*lease)->backend();
        auto   tokens  = backend.tokenize(call->content, call->add_special);
        if (!tokens) return send_openai_error(res, tokens.error());
        std::vector<std::string> pieces;
        if (call->with_pieces) {
            for (int32_t t : *tokens) {
                auto piece = backend.detokenize({t});
                pieces.push_back(piece ? *piece : std::string());
            }
        }
        res.set_content(utility::tokenize_response(*tokens, call->with_pieces ? &pieces : nullptr), "application/json");
    });
    http.Post("/detokenize", [&router](const httplib::Request & req, httplib::Response & res) {
        auto call = utility::parse_detokenize(req.body);
        if (!call) return send_openai_error(res, call.error());
        auto lease = lease_model(router, call->model, req);
        if (!lease) return send_openai_error(res, lease.error());
        auto text = (*lease)->backend().detokenize(call->tokens);
        if (!text) return send_openai_error(res, text.error());
        res.set_content(utility::detokenize_response(*text), "application/json");
    });
    http.Post("/apply-template", [&router](const httplib::Request & req, httplib::Response & res) {
        auto call = api::openai::parse_chat(req.body);
        if (!call) return send_openai_error(res, call.error());
        auto lease = lease_model(router, call->request.model, req);
        if (!lease) return send_openai_error(res, lease.error());
        auto prompt = (*lease)->backend().apply_template(call->request);
        if (!prompt) return send_openai_error(res, prompt.error());
        res.set_content(utility::apply_template_response(*prompt), "application/json");
    });
    http.Get("/props", [&router](const httplib::Request & req, httplib::Response & res) {
        auto lease = lease_model(router, req.get_param_value("model"), req);
        if (!lease) return send_openai_error(res, lease.error());
        res.set_content(utility::props_response((*lease)->info()), "application/json");
    });
}

}  // namespace kiln::server
