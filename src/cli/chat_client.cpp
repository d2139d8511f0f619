#include "cli/chat_client.h"

#include <chrono>

#include <cpp-httplib/httplib.h>
#include <nlohmann/json.hpp>

#include "api/openai_upstream.h"
#include "backend/llama_backend.h"
#include "cli/model_arg.h"
#include "core/log.h"
#include "core/units.h"

namespace kiln::cli {
namespace {

using json  = nlohmann::json;
using clock = std::chrono::steady_clock;

double ms_since(clock::time_point t) { return std::chrono::duration<double, std::milli>(clock::now() - t).count(); }

// The chat as kiln's OpenAI route takes it (the same body kiln sends its
// own upstream runners), with kiln's extensions.
// The end of a turn: its failure, or its counts and finish put in `st`.
Result<TurnStats> turn_end(const backend::Event & end, TurnStats st) {
    if (const auto * f = end.as_failure()) return f->error;
    const backend::Done & done = *end.as_done();
    st.prompt_tokens     = done.usage.prompt_tokens;
    st.completion_tokens = done.usage.completion_tokens;
    st.cached_tokens     = done.usage.cached_tokens;
    st.finish            = backend::finish_reason_name(done.finish);
    return st;
}

std::string chat_body(const std::string & model, const std::vector<engine::ChatMessage> & messages, const ChatSettings & s) {
    backend::ChatRequest r;
    r.messages          = messages;
    r.params.sampling   = s.sampling;
    r.params.max_tokens = s.max_tokens;
    r.params.stop       = s.stop;
    json body           = json::parse(api::openai::upstream_chat_body(r, model));
    if (s.num_ctx > 0) body["num_ctx"] = s.num_ctx;
    if (s.ignore_eos) body["ignore_eos"] = true;
    return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

class RemoteClient final : public ChatClient {
  public:
    RemoteClient(std::string url, std::string key, std::string model)
        : url_(std::move(url)), key_(std::move(key)), model_(std::move(model)) {}

    Result<TurnStats> send(const std::vector<engine::ChatMessage> & messages, const ChatSettings & settings,
                           const std::function<void(const std::string &)> & on_text, const std::atomic<bool> & cancel) override {
        const std::string payload = chat_body(model_, messages, settings);
        httplib::Client   http(url_);
        http.set_read_timeout(std::chrono::hours(1));
        TurnStats                   st;
        api::openai::UpstreamReader reader;
        std::string                 raw;  // the body, when it is an error
        const auto                  t0    = clock::now();
        bool                        first = true;
        httplib::Headers headers;
        if (!key_.empty()) headers.emplace("Authorization", "Bearer " + key_);
        auto res = http.Post(
            "/v1/chat/completions", headers, payload.size(),
            [&](size_t offset, size_t length, httplib::DataSink & sink) { return sink.write(payload.data() + offset, length); },
            "application/json",
            [&](const char * data, size_t len) {
                if (cancel.load()) return false;
                if (raw.size() < 4096) raw.append(data, std::min<size_t>(len, 4096));
                for (const auto & ev : reader.feed(std::string_view(data, len))) {
                    const auto * d = ev.as_delta();
                    if (!d || d->text.empty()) continue;
                    if (first) st.ttft_ms = ms_since(t0);
                    first = false;
                    on_text(d->text);
                }
                return true;
            },
            nullptr);
        st.generation_ms = first ? 0 : ms_since(t0) - st.ttft_ms;
        if (cancel.load()) {
            st.finish = "cancelled";
            return st;
        }
        if (!res) return make_error(ErrorCode::unavailable, "the server at " + url_ + " went away: " + httplib::to_string(res.error()));
        if (res->status != 200) {
            json e = json::parse(raw, nullptr, false);
            const std::string why = e.is_object() && e.contains("error") && e["error"].is_object() ? e["error"].value("message", raw) : raw;
            return make_error(res->status == 404 ? ErrorCode::model_not_found : ErrorCode::invalid_request, why);
        }
        return turn_end(reader.end(), st);
    }

    Result<int32_t> count_tokens(const std::vector<engine::ChatMessage> & messages) override {
        json msgs = json::array();
        std::string system;
        for (const auto & m : messages) {
            if (m.role == "system") system += m.content;
            else msgs.push_back({{"role", m.role}, {"content", m.content}});
        }
        if (msgs.empty()) return 0;
        json body = {{"model", model_}, {"messages", msgs}};
        if (!system.empty()) body["system"] = system;
        auto j = post("/v1/messages/count_tokens", body);
        if (!j) return j.error();
        return j->value("input_tokens", 0);
    }

    int32_t context() override {
        if (ctx_ > 0) return ctx_;
        httplib::Client http(url_);
        auto res = http.Get("/v1/models/" + model_, auth());
        if (!res || res->status != 200) return 0;
        json j = json::parse(res->body, nullptr, false);
        if (!j.is_object() || !j.contains("meta")) return 0;
        const int32_t n = j["meta"].value("n_ctx", 0);
        if (n > 0) ctx_ = n;  // loaded: its context stays until it is loaded again
        return n > 0 ? n : j["meta"].value("n_ctx_train", 0);
    }

    std::string model() const override { return model_; }
    std::string where() const override { return "server " + url_; }

    std::string describe() override {
        auto j = post("/api/show", {{"model", model_}});
        std::string out = "model: " + model_ + "\nrunning on: " + where() + "\n";
        if (j && j->contains("details")) {
            const json & d = (*j)["details"];
            out += "family: " + d.value("family", "?") + ", parameters: " + d.value("parameter_size", "?") +
                   ", quantization: " + d.value("quantization_level", "?") + "\n";
        }
        if (const int32_t n = context(); n > 0) out += "context: " + std::to_string(n) + " tokens\n";
        return out;
    }

  private:
    httplib::Headers auth() const {
        httplib::Headers h;
        if (!key_.empty()) h.emplace("Authorization", "Bearer " + key_);
        return h;
    }
    Result<json> post(const std::string & path, const json & body) {
        httplib::Client http(url_);
        auto res = http.Post(path, auth(), body.dump(), "application/json");
        if (!res) return make_error(ErrorCode::unavailable, "the server at " + url_ + " did not answer");
        json j = json::parse(res->body, nullptr, false);
        if (res->status != 200) {
            std::string why = res->body;
            if (j.is_object() && j.contains("error")) why = j["error"].is_object() ? j["error"].value("message", why) : j["error"].dump();
            return make_error(res->status == 404 ? ErrorCode::model_not_found : ErrorCode::invalid_request, why);
        }
        return j;
    }

    std::string url_, key_, model_;
    int32_t     ctx_ = 0;
};

class LocalClient final : public ChatClient {
  public:
    LocalClient(std::unique_ptr<backend::LlamaBackend> b, backend::LlamaOptions o) : backend_(std::move(b)), opts_(std::move(o)) {}

    Result<TurnStats> send(const std::vector<engine::ChatMessage> & messages, const ChatSettings & settings,
                           const std::function<void(const std::string &)> & on_text, const std::atomic<bool> & cancel) override {
        if (!backend_) return gone();
        // /set num_ctx: the model is loaded again with that context.
        if (settings.num_ctx > 0 && settings.num_ctx != backend_->info().n_ctx) {
            backend::LlamaOptions o = opts_;
            o.n_ctx                 = settings.num_ctx;
            backend_.reset();  // its memory first
            auto again = backend::LlamaBackend::create(o);
            if (!again) {
                auto back = backend::LlamaBackend::create(opts_);  // the one that worked
                if (back) backend_ = std::move(*back);
                return again.error();
            }
            backend_ = std::move(*again);
            opts_    = std::move(o);
        }
        backend::ChatRequest req;
        req.messages          = messages;
        req.params.sampling   = settings.sampling;
        req.params.max_tokens = settings.max_tokens;
        req.params.stop       = settings.stop;
        req.params.ignore_eos = settings.ignore_eos;
        const auto t0         = clock::now();
        KILN_TRY(auto channel, backend_->submit(std::move(req)));
        TurnStats st;
        bool      first = true;
        for (;;) {
            if (cancel.load()) channel->cancel();
            auto ev = channel->pop(std::chrono::milliseconds(50));
            if (!ev) continue;
            if (const auto * d = ev->as_delta()) {
                if (d->text.empty()) continue;
                if (first) st.ttft_ms = ms_since(t0);
                first = false;
                on_text(d->text);
                continue;
            }
            if (const auto * done = ev->as_done()) {  // the server's own timings
                st.prompt_ms     = done->timings.prompt_ms;
                st.generation_ms = done->timings.generation_ms;
            }
            return turn_end(*ev, st);
        }
    }

    Result<int32_t> count_tokens(const std::vector<engine::ChatMessage> & messages) override {
        if (!backend_) return gone();
        backend::ChatRequest req;
        req.messages = messages;
        return backend_->count_tokens(req);
    }
    int32_t     context() override { return backend_ ? backend_->info().n_ctx_seq : 0; }
    std::string model() const override { return backend_ ? backend_->info().id : opts_.model_path.stem().string(); }
    std::string where() const override { return "in-process"; }
    std::string describe() override {
        if (!backend_) return "model: not loaded (" + gone().message + ")\n";
        const auto & i = backend_->info();
        return "model: " + i.id + "\nrunning on: in-process\narch: " + i.arch + ", parameters: " +
               std::to_string(i.n_params / 1000000) + "M, quantization: " + i.quant + "\ncontext: " + std::to_string(i.n_ctx_seq) +
               " tokens (trained for " + std::to_string(i.n_ctx_train) + ")\nfile: " + i.file_name + "\n";
    }

  private:
    static Error gone() {
        return make_error(ErrorCode::unavailable, "the model could not be loaded again; /model NAME loads one");
    }
    std::unique_ptr<backend::LlamaBackend> backend_;
    backend::LlamaOptions                  opts_;
};

}  // namespace

std::unique_ptr<ChatClient> connect_server(const std::string & url, const std::string & api_key, const std::string & model) {
    httplib::Client http(url);
    http.set_connection_timeout(std::chrono::milliseconds(300));
    http.set_read_timeout(std::chrono::seconds(2));
    auto res = http.Get("/health");
    if (!res || res->status != 200) return nullptr;
    return std::make_unique<RemoteClient>(url, api_key, model);
}

Result<std::unique_ptr<ChatClient>> load_local(const std::string & model, int32_t n_ctx, int32_t threads,
                                               engine::ContextParams::FlashAttn flash_attn, bool verbose) {
    (void)verbose;
    KILN_TRY(auto opts, resolve_llama(model));
    if (n_ctx > 0 || opts.n_ctx == 0) opts.n_ctx = n_ctx;
    if (threads > 0 || opts.n_threads == 0) opts.n_threads = threads;
    opts.flash_attn = flash_attn;
    KILN_TRY(auto backend, backend::LlamaBackend::create(opts));
    return std::unique_ptr<ChatClient>(std::make_unique<LocalClient>(std::move(backend), std::move(opts)));
}

}  // namespace kiln::cli
