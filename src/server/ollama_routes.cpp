#include "server/ollama_routes.h"

#include <algorithm>
#include <chrono>

#include <cpp-httplib/httplib.h>

#include "api/models_api.h"
#include "api/ollama_chat.h"
#include "api/ollama_models.h"
#include "api/ollama_pull.h"
#include "core/utf8.h"
#include "router/create_preset.h"
#include "router/model_spec.h"
#include "server/pipeline.h"
#include "server/reply.h"
#include "store/catalog.h"
#include "store/gguf_info.h"
#include "store/modelfile.h"

namespace kiln::server {
namespace {

namespace ollama = api::ollama;

void send_error(httplib::Response & res, const Error & e) { server::send_error(res, api::Family::ollama, e); }

// Ollama's load (empty prompt) and unload (empty prompt, keep_alive 0).
void load_or_unload(httplib::Response & res, router::Router & router, const ollama::GenerateCall & call) {
    const bool unload = call.keep_alive && !call.keep_alive->is_forever() && call.keep_alive->duration.count() == 0;
    std::string id    = call.model;
    if (unload) {
        auto gone = router.unload(call.model);
        if (!gone && gone.error().code != ErrorCode::not_found) return send_error(res, gone.error());
        if (gone) id = gone->id;
    } else {
        router::Ask ask;
        ask.keep_alive = call.keep_alive;
        ask.n_ctx      = call.n_ctx;
        auto loaded    = router.load(call.model, ask);
        if (!loaded) return send_error(res, loaded.error());
        id = loaded->id;
    }
    res.set_content(ollama::load_object(call, id, unload), call.stream ? "application/x-ndjson" : "application/json");
}

// A generate or chat answer: NDJSON lines, or the final object whole.
class GenerateRender : public Render {
  public:
    GenerateRender(std::shared_ptr<const ollama::GenerateCall> call, const Answering & a)
        : call_(std::move(call)), id_(a.model.id), received_(a.received) {
        d_.load = a.leased - a.received;
    }
    std::string event(const backend::Event & ev) override {
        if (const auto * d = ev.as_delta()) return ollama::event_line(*call_, id_, *d);
        if (const auto * f = ev.as_failure()) return ollama::error_line(f->error);
        return whole("", *ev.as_done());
    }
    std::string whole(const std::string & text, const backend::Done & done) override {
        d_.total = Clock::now() - received_;
        return ollama::final_object(*call_, id_, text, done, d_);
    }

  private:
    std::shared_ptr<const ollama::GenerateCall> call_;
    std::string                                 id_;
    Clock::time_point                           received_;
    ollama::Durations                           d_;
};

httplib::Server::Handler generation_route(router::Router & router, Result<ollama::GenerateCall> (*parse)(std::string_view)) {
    return [&router, parse](const httplib::Request & req, httplib::Response & res) {
        Job  job;
        auto call = parse(req.body);
        if (!call) return send_error(res, call.error());
        if (call->load_only) return load_or_unload(res, router, *call);
        job.family      = api::Family::ollama;
        job.model       = call->model;
        job.keep_alive  = call->keep_alive;
        job.n_ctx       = call->n_ctx;
        job.stream      = call->stream;
        job.stream_type = "application/x-ndjson";
        if (call->raw && !call->chat) {
            job.request = call->completion;
        } else {
            job.request = call->messages;
        }
        job.render = [call = std::make_shared<const ollama::GenerateCall>(std::move(*call))](const Answering & a) {
            return std::make_unique<GenerateRender>(call, a);
        };
        run(req, res, router, std::move(job));
    };
}

void embed_route(httplib::Server & http, router::Router & router, const char * route,
                 Result<ollama::EmbedCall> (*parse)(std::string_view)) {
    http.Post(route, [&router, parse](const httplib::Request & req, httplib::Response & res) {
        Job  job;
        auto call = parse(req.body);
        if (!call) return send_error(res, call.error());
        job.family     = api::Family::ollama;
        job.model      = call->request.model;
        job.keep_alive = call->keep_alive;  // embeddings: the model's own context
        // Ollama answers an empty legacy prompt with nothing.
        job.nothing_to_run = call->legacy && call->request.inputs[0].empty();
        job.request        = call->request;
        job.render = [call = std::make_shared<const ollama::EmbedCall>(std::move(*call))](const Answering & a) {
            return whole_only([call, id = a.model.id, received = a.received, load = a.leased - a.received](
                                  const std::string &, const backend::Done & done) {
                using ns = std::chrono::nanoseconds;
                return ollama::embed_response(*call, id, done, std::chrono::duration_cast<ns>(Clock::now() - received).count(),
                                              std::chrono::duration_cast<ns>(load).count());
            });
        };
        run(req, res, router, std::move(job));
    });
}

// /api/show, /api/delete, /api/copy: the catalog's models (each request opens its own catalog).
// The catalog and the entry a body's "model" names; false (and the error written) when either is missing.
struct Found {
    std::unique_ptr<store::Catalog> catalog;
    store::ModelEntry               entry;
    std::string                     name;  // as the request gave it
};

bool find_entry(const std::filesystem::path & home, const std::string & name, httplib::Response & res, Found & out) {
    auto catalog = store::Catalog::open(home);
    if (!catalog) {
        send_error(res, catalog.error());
        return false;
    }
    auto entry = (*catalog)->find(name);
    if (!entry) {
        send_error(res, entry.error());
        return false;
    }
    out = {std::move(*catalog), std::move(*entry), name};
    return true;
}

// The created preset of that name (any case), if there is one.
std::optional<PresetTable> created_preset(const std::filesystem::path & home, const std::string & name) {
    auto all = store::created_presets(home);
    if (!all) return std::nullopt;
    for (auto & t : *all) {
        if (utf8::ascii_lower(t.name) == utf8::ascii_lower(name)) return std::move(t);
    }
    return std::nullopt;
}

// What /api/show tells of a listed model the catalog does not have: its
// GGUF header when it runs in-process, else what its listing knows.
store::ModelEntry listed_entry(router::Router & router, const backend::ModelInfo & m) {
    store::ModelEntry e;
    e.name     = m.id;
    e.source   = "local";
    e.modified = m.created;
    e.size     = m.size_bytes;
    auto spec  = router.resolver().resolve(m.id);
    if (spec && !spec->llama.model_path.empty()) {
        if (auto info = store::read_gguf_info(spec->llama.model_path)) {
            e.info = std::move(*info);
            return e;
        }
    }
    e.info.architecture   = m.arch;
    e.info.quant          = m.quant;
    e.info.n_params       = m.n_params;
    e.info.context_length = static_cast<uint32_t>(m.n_ctx_train);
    e.info.capabilities   = {m.embedding ? "embedding" : "completion"};
    return e;
}

void catalog_routes(httplib::Server & http, router::Router & router, const std::filesystem::path & home,
                    const ModelLister & list_models) {
    http.Post("/api/create", [home, &router](const httplib::Request & req, httplib::Response & res) {
        auto call = ollama::parse_create(req.body);
        if (!call) return send_error(res, call.error());
        auto made = router::create_preset(home, router.resolver(), call->name, call->modelfile, backend::LlamaOptions{});
        if (!made) return send_error(res, made.error());
        // A loaded model of that name goes, so the next request gets the new settings.
        (void)router.unload(call->name);
        res.set_content(ollama::create_response(*call, call->modelfile.from),
                        call->stream ? "application/x-ndjson" : "application/json");
    });
    http.Post("/api/show", [home, &router, list_models](const httplib::Request & req, httplib::Response & res) {
        auto name = ollama::parse_model_name(req.body);
        if (!name) return send_error(res, name.error());
        if (auto preset = created_preset(home, *name)) {
            Found f;
            const auto model = preset->values.count("model") ? preset->values.at("model").text() : std::string();
            if (!find_entry(home, model, res, f)) return;
            return res.set_content(ollama::show_preset_response(*preset, f.entry), "application/json");
        }
        auto catalog = store::Catalog::open(home);
        if (!catalog) return send_error(res, catalog.error());
        auto entry = (*catalog)->find(*name);
        if (entry) {
            return res.set_content(ollama::show_response(*entry, (*catalog)->absolute(entry->files.front()).string()),
                                   "application/json");
        }
        // Not in the catalog, yet listed (a --model path, a config preset, a
        // process or remote model): what its file or its listing says.
        auto listed = entry.error().code == ErrorCode::model_not_found ? find_listed(list_models(), *name) : std::nullopt;
        if (!listed) return send_error(res, entry.error());
        res.set_content(ollama::show_response(listed_entry(router, *listed), listed->id), "application/json");
    });
    http.Delete("/api/delete", [home, &router](const httplib::Request & req, httplib::Response & res) {
        auto  name = ollama::parse_model_name(req.body);
        Found f;
        if (!name) return send_error(res, name.error());
        // A created preset goes from presets.toml; its model stays.
        if (created_preset(home, *name)) {
            (void)router.unload(*name);
            auto gone = store::remove_preset(home, *name);
            if (!gone) return send_error(res, gone.error());
            res.status = 200;
            return;
        }
        if (!find_entry(home, *name, res, f)) return;
        auto & entry   = f.entry;
        auto & catalog = f.catalog;
        // A copy (an alias) goes alone. The model itself is unloaded first
        // (once its requests end), so no file is deleted under a running model.
        const bool alias = store::named_by_alias(entry, *name);
        if (!alias) {
            if (auto gone = router.unload(entry.name); !gone && gone.error().code != ErrorCode::not_found) {
                return send_error(res, gone.error());
            }
        }
        if (Status st = catalog->remove(alias ? *name : entry.name, true); !st) return send_error(res, st.error());
        res.status = 200;
    });
    http.Post("/api/copy", [home](const httplib::Request & req, httplib::Response & res) {
        auto  call = ollama::parse_copy(req.body);
        Found f;
        if (!call) return send_error(res, call.error());
        if (!find_entry(home, call->source, res, f)) return;
        if (Status st = f.catalog->add_alias(call->destination, f.entry.name); !st) return send_error(res, st.error());
        res.status = 200;
    });
}

}  // namespace

void register_ollama_routes(httplib::Server & http, router::Router & router, ModelLister list_models,
                            std::filesystem::path home) {
    embed_route(http, router, "/api/embed", ollama::parse_embed);
    embed_route(http, router, "/api/embeddings", ollama::parse_embeddings_legacy);
    catalog_routes(http, router, home, list_models);
    http.Get("/", [](const httplib::Request &, httplib::Response & res) { res.set_content("Ollama is running", "text/plain"); });
    http.Get("/api/version", [](const httplib::Request &, httplib::Response & res) {
        res.set_content(ollama::version_object(), "application/json");
    });
    http.Get("/api/tags", [list_models](const httplib::Request &, httplib::Response & res) {
        res.set_content(api::tags_response(list_models()), "application/json");
    });
    http.Post("/api/generate", generation_route(router, ollama::parse_generate));
    http.Post("/api/chat", generation_route(router, ollama::parse_chat));
}

}  // namespace kiln::server
