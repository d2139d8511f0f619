#include "cli/chat_client.h"

#include <chrono>

#include <cpp-httplib/httplib.h>
#include <nlohmann/json.hpp>

#include "backend/llama_backend.h"
#include "cli/model_arg.h"
#include "core/log.h"
#include "core/units.h"

namespace kiln::cli {
namespace {

using json  = nlohmann::json;
using clock = std::chrono::steady_clock;

double ms_since(clock::time_point t) { return std::chrono::duration<double, std::milli>(clock::now() - t).count(); }

// The sampling fields a chat set, by their API names.
void put_settings(json & body, const ChatSettings & s, bool ollama_names) {
    using F = engine::SamplingParams;
    const auto & p = s.sampling;
    if (p.set & F::temperature_set) body["temperature"] = p.temperature;
    if (p.set & F::top_p_set) body["top_p"] = p.top_p;
    if (p.set & F::top_k_set) body["top_k"] = p.top_k;
    if (p.set & F::min_p_set) body["min_p"] = p.min_p;
    if (p.set & F::repeat_penalty_set) body["repeat_penalty"] = p.repeat_penalty;
    if (p.seed) body["seed"] = *p.seed;
    if (s.max_tokens >= 0) body["max_tokens"] = s.max_tokens;
    if (s.num_ctx > 0) body["num_ctx"] = s.num_ctx;
    if (!s.stop.empty()) body["stop"] = s.stop;
    if (s.ignore_eos) body["ignore_eos"] = true;
    (void)ollama_names;
}

class RemoteClient final : public ChatClient {
  public:
    RemoteClient(std::string url, std::string key, std::string model)
        : url_(std::move(url)), key_(std::move(key)), model_(std::move(model)) {}

    Result<TurnStats> send(const std::vector<engine::ChatMessage> & messages, const ChatSettings & settings,
                           const std::function<void(const std::string &)> & on_text, const std::atomic<bool> & cancel) override {
        json msgs = json::array();
        for (const auto & m : messages) msgs.push_back({{"role", m.role}, {"content", m.content}});
        json body = {{"model", model_}, {"messages", msgs}, {"stream", true}, {"stream_options", {{"include_usage", true}}}};
        put_settings(body, settings, false);
        const std::string payload = body.dump(-1, ' ', false, json::error_handler_t::replace);

        httplib::Client http(url_);
        http.set_read_timeout(std::chrono::hours(1));
        TurnStats   st;
        std::string buffer, error_body;
        const auto  t0    = clock::now();
        bool        first = true;
        auto on_event = [&](const std::string & data) {
            if (data == "[DONE]") return;
            json j = json::parse(data, nullptr, false);
            if (!j.is_object()) return;
            if (j.contains("error")) {
                error_body = j["error"].is_object() ? j["error"].value("message", "error") : j["error"].dump();
                return;
            }
            if (j.contains("usage") && j["usage"].is_object()) {
                st.prompt_tokens     = j["usage"].value("prompt_tokens", 0);
                st.completion_tokens = j["usage"].value("completion_tokens", 0);
                if (j["usage"].contains("prompt_tokens_details")) {
                    st.cached_tokens = j["usage"]["prompt_tokens_details"].value("cached_tokens", 0);
                }
            }
            if (!j.contains("choices") || j["choices"].empty()) return;
            const json & c = j["choices"][0];
            if (c.contains("finish_reason") && c["finish_reason"].is_string()) st.finish = c["finish_reason"];
            if (!c.contains("delta") || !c["delta"].contains("content") || !c["delta"]["content"].is_string()) return;
            const std::string piece = c["delta"]["content"];
            if (piece.empty()) return;
            if (first) {
                st.ttft_ms = ms_since(t0);
                first      = false;
            }
            on_text(piece);
        };
        httplib::Headers headers;
        if (!key_.empty()) headers.emplace("Authorization", "Bearer " + key_);
        auto res = http.Post(
            "/v1/chat/completions", headers, payload.size(),
            [&](size_t offset, size_t length, httplib::DataSink & sink) { return sink.write(payload.data() + offset, length); },
            "application/json",
            [&](const char * data, size_t len) {
                if (cancel.load()) return false;
                buffer.append(data, len);
                for (size_t end; (end = buffer.find("\n\n")) != std::string::npos;) {
                    std::string event = buffer.substr(0, end);
                    buffer.erase(0, end + 2);
                    for (size_t pos = 0; pos < event.size();) {
                        const size_t nl   = event.find('\n', pos);
                        std::string  line = event.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
                        if (line.rfind("data: ", 0) == 0) on_event(line.substr(6));
                        if (nl == std::string::npos) break;
                        pos = nl + 1;
                    }
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
            json e = json::parse(buffer, nullptr, false);
            const std::string why = e.is_object() && e.contains("error") && e["error"].is_object() ? e["error"].value("message", buffer) : buffer;
            return make_error(res->status == 404 ? ErrorCode::model_not_found : ErrorCode::invalid_request, why);
        }
        if (!error_body.empty()) return make_error(ErrorCode::internal, error_body);
        return st;
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
            if (ev->kind == backend::Event::Kind::delta) {
                if (ev->text.empty()) continue;
                if (first) st.ttft_ms = ms_since(t0);
                first = false;
                on_text(ev->text);
                continue;
            }
            if (ev->kind == backend::Event::Kind::error) return ev->error;
            st.prompt_tokens     = ev->usage.prompt_tokens;
            st.completion_tokens = ev->usage.completion_tokens;
            st.cached_tokens     = ev->usage.cached_tokens;
            st.prompt_ms         = ev->timings.prompt_ms;
            st.generation_ms     = ev->timings.generation_ms;
            st.finish            = backend::finish_reason_name(ev->finish);
            return st;
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
