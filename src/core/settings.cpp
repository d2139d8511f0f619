#include "core/settings.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

namespace kiln {

namespace {

constexpr double kInt32Max = 2147483647.0;
constexpr double kMiB1G    = 1073741824.0;  // 2^30 MiB: one PiB, more than any budget

using T = SettingType;

constexpr unsigned kServerModel = scope_server | scope_model | scope_preset;
constexpr unsigned kSampling    = scope_preset | scope_request;

const std::vector<SettingDef> kDefs = {
    // [server]
    {"server", "host", T::text, 0, 0, "127.0.0.1", "KILN_HOST", "--host", "HOST", "address to listen on"},
    {"server", "port", T::integer, 0, 65535, "11434", "KILN_PORT", "-p,--port", "INT", "port to listen on (0 picks a free one)"},
    {"server", "model", T::text, 0, 0, "", "KILN_MODEL", "-m,--model", "MODEL",
     "the default model (what a request without a model gets), loaded at start and kept: a preset, a GGUF path or a "
     "name from kiln list (default: the demo model); others load on demand"},
    {"server", "alias", T::text, 0, 0, "", "KILN_ALIAS", "-a,--alias", "NAME",
     "model id clients use for --model (default: the file name without .gguf)"},
    {"server", "listen", T::list, 0, 0, "", "KILN_LISTEN", "--listen", "ADDRS",
     "more addresses serving the same routes: host:port or a port (e.g. 1234, where LM Studio clients look), "
     "comma-separated"},
    {"server", "api_key", T::list, 0, 0, "", "KILN_API_KEY", "--api-key", "KEYS",
     "API keys clients must send, comma-separated (empty: none needed on loopback)"},
    {"server", "api_keys_file", T::text, 0, 0, "", "KILN_API_KEYS_FILE", "--api-keys-file", "PATH",
     "a file of API keys, one a line, '#' comments"},
    {"server", "allowed_hosts", T::list, 0, 0, "", "KILN_ALLOWED_HOSTS", "--allowed-hosts", "HOSTS",
     "Host names answered besides loopback ones, comma-separated"},
    {"server", "cors_origins", T::list, 0, 0, "", "KILN_CORS_ORIGINS", "--cors-origins", "ORIGINS",
     "browser origins allowed besides loopback ones, comma-separated (* for any)"},
    {"server", "insecure", T::boolean, 0, 0, "false", "KILN_INSECURE", "--insecure", nullptr,
     "listen on a non-loopback address without an API key"},
    {"server", "rate_limit", T::integer, 0, 1000000, "0", "KILN_RATE_LIMIT", "--rate-limit", "INT",
     "requests a minute per API key (per client address without keys); more get 429 with Retry-After (0: no limit)"},
    {"server", "token_limit", T::integer, 0, 1000000000, "0", "KILN_TOKEN_LIMIT", "--token-limit", "INT",
     "tokens (prompt and generated) a minute per API key (per client address without keys) (0: no limit)"},
    {"server", "max_connections", T::integer, 1, 1000000, "1024", "KILN_MAX_CONNECTIONS", "--max-connections", "INT",
     "open HTTP connections per listening address; more are answered 503 with Retry-After and closed"},
    {"server", "max_client_connections", T::integer, 1, 1000000, "256", "KILN_MAX_CLIENT_CONNECTIONS",
     "--max-client-connections", "INT", "open HTTP connections of one client address; more are answered 503"},
    {"server", "header_timeout", T::integer, 1, 86400, "10", "KILN_HEADER_TIMEOUT", "--header-timeout", "SECONDS",
     "seconds a client has for a request's line and headers, from its first byte"},
    {"server", "body_timeout", T::integer, 1, 86400, "60", "KILN_BODY_TIMEOUT", "--body-timeout", "SECONDS",
     "seconds a client has for a request's body, from the end of its headers"},
    {"server", "idle_timeout", T::integer, 1, 86400, "5", "KILN_IDLE_TIMEOUT", "--idle-timeout", "SECONDS",
     "seconds a connection may wait for its (next) request"},
    {"server", "send_timeout", T::integer, 1, 86400, "10", "KILN_SEND_TIMEOUT", "--send-timeout", "SECONDS",
     "seconds a client may read nothing of its answer; then it is dropped and its generation cancelled"},
    // [model]: every model's defaults; a preset may set its own.
    {"model", "ctx_size", T::integer, 0, 16777216, "0", "KILN_CTX_SIZE", "-c,--ctx-size", "INT",
     "tokens of a model's KV pool, which its requests share (0: the trained context if the memory budget allows, "
     "else the most that fits)", kServerModel},
    {"model", "slot_ctx", T::integer, 0, 16777216, "0", "KILN_SLOT_CTX", "--slot-ctx", "INT",
     "context of one request (0: the whole pool)", kServerModel},
    {"model", "slots", T::integer, 1, 128, "4", "KILN_SLOTS", "--slots,--parallel", "INT", "requests decoded together",
     kServerModel},
    {"model", "max_queue", T::integer, 0, 1048576, "64", "KILN_MAX_QUEUE", "--max-queue", "INT",
     "requests that may wait; more get 503 with Retry-After", kServerModel},
    {"model", "threads", T::integer, 0, 1024, "0", "KILN_THREADS", "-t,--threads", "INT",
     "CPU threads for inference (0: one per core)", kServerModel},
    {"model", "batch_size", T::integer, 1, 65536, "512", "KILN_BATCH_SIZE", "-b,--batch-size", "INT",
     "prompt tokens per decode step (at most 128 while other answers stream, so they pause for one short step)",
     kServerModel},
    {"model", "cache_ram", T::integer, -1, kMiB1G, "-1", "KILN_CACHE_RAM", "--cache-ram", "MIB",
     "MiB of host memory for cached prompts moved out of the KV pool (-1: a quarter of the memory budget over "
     "max_models, at most 8192; 0: off)", kServerModel},
    {"model", "flash_attn", T::text, 0, 0, "auto", "KILN_FLASH_ATTN", "--flash-attn", "MODE",
     "flash attention: auto, on or off. auto is off without a GPU when the KV cache is unquantized, cache_ram is not "
     "0 and the attention score buffer (batch x context x heads floats) is at most 1 GiB, where it decodes faster; "
     "else on. on makes outputs bit-exact whatever runs alongside", kServerModel},
    {"model", "kv_type", T::text, 0, 0, "f16", "KILN_KV_TYPE", "--kv-type", "TYPE",
     "KV cache type: f16, bf16, f32, q8_0, q5_1, q5_0, q4_1, q4_0 or iq4_nl (q8_0 halves it; quantized types need "
     "flash attention)", kServerModel},
    {"model", "template_timeout", T::integer, 1, 3600, "60", "KILN_TEMPLATE_TIMEOUT", "--template-timeout", "SECONDS",
     "seconds a chat template may take to render one request (it is code from the model or the request); past it "
     "the request gets 400", kServerModel},
    // [router]
    {"router", "memory_budget", T::integer, 0, 1099511627776.0, "0", "KILN_MEMORY_BUDGET", "--memory-budget", "MIB",
     "MiB all loaded models may take together (0: 80% of the memory available at start)"},
    {"router", "max_models", T::integer, 1, 64, "3", "KILN_MAX_MODELS", "--max-models", "INT", "models loaded at once"},
    {"router", "keep_alive", T::duration, 0, 0, "5m", "KILN_KEEP_ALIVE", "--keep-alive", "DURATION",
     "how long an idle model stays loaded (5m, 1h30m, 90s, seconds; 0: unload when idle; -1: forever)",
     kServerModel | scope_request},
    // [log]
    {"log", "level", T::text, 0, 0, "info", "KILN_LOG_LEVEL", "--log-level", "LEVEL",
     "debug, info, warn or error (debug shows llama.cpp's log)"},

    // A preset's own keys ([models.NAME]).
    {nullptr, "model", T::text, 0, 0, "", nullptr, nullptr, nullptr,
     "a catalog name or a GGUF path (required for the llama backend)", scope_preset},
    {nullptr, "aliases", T::list, 0, 0, "", nullptr, nullptr, nullptr, "more names clients may use", scope_preset},
    {nullptr, "backend", T::text, 0, 0, "llama", nullptr, nullptr, nullptr,
     "llama (in-process), process (a managed OpenAI-compatible runner) or remote (a fixed URL)", scope_preset},
    {nullptr, "command", T::list, 0, 0, "", nullptr, nullptr, nullptr,
     "process: the runner's command line (a string or a list), with ${PORT}, ${HOST}, ${MODEL_PATH}, ${MODEL}, "
     "${CTX}, ${SLOTS}, ${THREADS} and ${KILN_BIN} replaced", scope_preset},
    {nullptr, "url", T::text, 0, 0, "", nullptr, nullptr, nullptr,
     "remote: http://host:port of an OpenAI-compatible server", scope_preset},
    {nullptr, "api_key", T::text, 0, 0, "", nullptr, nullptr, nullptr, "remote: the key kiln sends it", scope_preset},
    {nullptr, "health", T::text, 0, 0, "", nullptr, nullptr, nullptr,
     "the path that answers 200 once ready (process: /health; remote: /v1/models)", scope_preset},
    {nullptr, "ready_timeout", T::integer, 1, 3600, "120", nullptr, nullptr, nullptr,
     "process: seconds it has to become ready", scope_preset},
    {nullptr, "stop_timeout", T::integer, 0, 600, "5", nullptr, nullptr, nullptr,
     "process: seconds from SIGTERM to SIGKILL when unloaded", scope_preset},
    {nullptr, "concurrency", T::integer, 0, 1024, "0", nullptr, nullptr, nullptr,
     "process and remote: requests forwarded at once (0: no limit)", scope_preset},
    {nullptr, "memory", T::integer, 0, kMiB1G, "0", nullptr, nullptr, nullptr,
     "process and remote: MiB counted against the memory budget (0: a process serving model is sized like the "
     "in-process backend, a remote one counts nothing)", scope_preset},
    {nullptr, "chat_template", T::text, 0, 0, "", nullptr, nullptr, nullptr,
     "a Jinja chat template in place of the model's", scope_preset},
    {nullptr, "system", T::text, 0, 0, "", nullptr, nullptr, nullptr, "the system prompt of every chat that brings none",
     scope_preset},
    {nullptr, "messages", T::list, 0, 0, "", nullptr, nullptr, nullptr,
     "turns put before every chat, as \"role: content\" (system, user or assistant)", scope_preset},
    {nullptr, "stop", T::list, 0, 0, "", nullptr, nullptr, nullptr, "stop strings of requests that give none",
     kSampling},
    {nullptr, "max_tokens", T::integer, -1, 1048576, "-1", nullptr, nullptr, nullptr,
     "tokens generated at most for requests that give no limit (-1: until the context is full)", kSampling},
    {nullptr, "license", T::text, 0, 0, "", nullptr, nullptr, nullptr, "shown by /api/show; nothing to run",
     scope_preset},
    // Default sampling for requests that leave a field out.
    {nullptr, "temperature", T::number, 0, 2, "0.8", nullptr, nullptr, nullptr, "sampling temperature", kSampling},
    {nullptr, "top_k", T::integer, 0, kInt32Max, "40", nullptr, nullptr, nullptr, "most likely tokens kept (0: all)",
     kSampling},
    {nullptr, "top_p", T::number, 0, 1, "0.95", nullptr, nullptr, nullptr, "nucleus: probability mass kept", kSampling},
    {nullptr, "min_p", T::number, 0, 1, "0.05", nullptr, nullptr, nullptr,
     "tokens less likely than this share of the most likely one are dropped", kSampling},
    {nullptr, "repeat_penalty", T::number, 0, 10, "1.0", nullptr, nullptr, nullptr, "repetition penalty (1: off)",
     kSampling},
    {nullptr, "repeat_last_n", T::integer, -1, kInt32Max, "64", nullptr, nullptr, nullptr,
     "tokens the penalties look back on (-1: the whole context)", kSampling},
    {nullptr, "presence_penalty", T::number, -2, 2, "0", nullptr, nullptr, nullptr,
     "subtracted from a token's logit once it appeared", kSampling},
    {nullptr, "frequency_penalty", T::number, -2, 2, "0", nullptr, nullptr, nullptr,
     "subtracted from a token's logit each time it appeared", kSampling},
    {nullptr, "seed", T::integer, 0, kInt32Max, "", nullptr, nullptr, nullptr,
     "sampling seed (default: a random one per generation)", kSampling},
};

const char * type_name(const SettingDef & d) {
    switch (d.type) {
        case T::text:     return "text";
        case T::integer:  return "integer";
        case T::number:   return "number";
        case T::boolean:  return "boolean";
        case T::duration: return "duration";
        case T::list:     return "list";
    }
    return "text";
}

std::string range_text(const SettingDef & d) { return fmt::format("from {} to {}", d.lo, d.hi); }

// A description of what `v` holds, for errors: "'abc'" or "a boolean".
std::string got(const SettingValue & v) {
    if (std::holds_alternative<bool>(v.value)) return "a boolean";
    if (std::holds_alternative<std::string>(v.value)) return "'" + std::get<std::string>(v.value) + "'";
    return v.text();
}

Error wrong(const SettingDef & d, const SettingValue & v) {
    std::string what = d.type == T::integer ? "an integer " + range_text(d) : d.type == T::number ? "a number " + range_text(d)
                       : d.type == T::boolean                             ? std::string("true or false")
                                                                          : std::string("a string");
    return make_error(ErrorCode::invalid_request, "must be " + what + ", got " + got(v));
}

}  // namespace

std::string SettingDef::key() const { return section ? std::string(section) + "." + name : std::string(name); }

const std::vector<SettingDef> & setting_defs() { return kDefs; }

const SettingDef * find_setting(std::string_view key) {
    for (const auto & d : kDefs) {
        if (d.section && d.key() == key) return &d;
    }
    return nullptr;
}

const SettingDef * find_preset_setting(std::string_view name) {
    for (const auto & d : kDefs) {
        if (d.in(scope_preset) && name == d.name) return &d;
    }
    return nullptr;
}

const char * setting_source_name(SettingSource source) {
    switch (source) {
        case SettingSource::default_value: return "default";
        case SettingSource::file:          return "file";
        case SettingSource::env:           return "env";
        case SettingSource::flag:          return "flag";
    }
    return "default";
}

std::string SettingValue::text() const {
    if (const auto * s = std::get_if<std::string>(&value)) return *s;
    if (const auto * i = std::get_if<int64_t>(&value)) return std::to_string(*i);
    if (const auto * b = std::get_if<bool>(&value)) return *b ? "true" : "false";
    return fmt::format("{}", std::get<double>(value));  // shortest form that reads back: 0.7, not 0.700000
}

std::ostream & operator<<(std::ostream & out, const SettingValue & v) { return out << v.text(); }

Result<int64_t> setting_integer(const SettingDef & d, const SettingValue & v) {
    int64_t n = 0;
    if (const auto * i = std::get_if<int64_t>(&v.value)) {
        n = *i;
    } else if (const auto * s = std::get_if<std::string>(&v.value)) {
        auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), n);
        if (ec != std::errc() || p != s->data() + s->size()) return wrong(d, v);
    } else {
        return wrong(d, v);
    }
    if (static_cast<double>(n) < d.lo || static_cast<double>(n) > d.hi) return wrong(d, v);
    return n;
}

Result<double> setting_number(const SettingDef & d, const SettingValue & v) {
    double x = 0;
    if (const auto * f = std::get_if<double>(&v.value)) {
        x = *f;
    } else if (const auto * i = std::get_if<int64_t>(&v.value)) {
        x = static_cast<double>(*i);
    } else if (const auto * s = std::get_if<std::string>(&v.value)) {
        char * end = nullptr;
        x          = std::strtod(s->c_str(), &end);
        if (s->empty() || *end != '\0') return wrong(d, v);
    } else {
        return wrong(d, v);
    }
    if (!(x >= d.lo && x <= d.hi)) return wrong(d, v);  // NaN fails too
    return x;
}

Result<bool> setting_boolean(const SettingDef & d, const SettingValue & v) {
    if (const auto * b = std::get_if<bool>(&v.value)) return *b;
    if (const auto * s = std::get_if<std::string>(&v.value)) {
        if (*s == "true" || *s == "1") return true;
        if (*s == "false" || *s == "0") return false;
    }
    return wrong(d, v);
}

Result<std::string> setting_text(const SettingDef & d, const SettingValue & v) {
    if (const auto * s = std::get_if<std::string>(&v.value)) return *s;
    // A duration may be a number of seconds; other text settings take strings only.
    if (d.type == T::duration && std::holds_alternative<int64_t>(v.value)) return v.text();
    return wrong(d, v);
}

std::string settings_markdown(SettingScope scope) {
    std::string out;
    auto        escape = [](std::string s) {
        std::string e;
        for (char c : s) {
            if (c == '|') e += '\\';
            e += c;
        }
        return e;
    };
    auto code = [](const std::string & s) { return s.empty() ? std::string() : "`" + s + "`"; };
    if (scope == scope_server) {
        out += "| flag | key | environment | default | meaning |\n|---|---|---|---|---|\n";
        for (const auto & d : kDefs) {
            if (!d.in(scope_server)) continue;
            std::string flags;
            for (std::string_view f = d.flag ? d.flag : ""; !f.empty();) {
                const size_t comma = f.find(',');
                flags += (flags.empty() ? "" : ", ") + code(std::string(f.substr(0, comma)));
                f = comma == std::string_view::npos ? std::string_view() : f.substr(comma + 1);
            }
            out += fmt::format("| {} | {} | {} | {} | {} |\n", flags, code(d.key()), code(d.env ? d.env : ""),
                               code(d.default_value), escape(d.help));
        }
        return out;
    }
    out += "| key | type | default | meaning |\n|---|---|---|---|\n";
    for (const auto & d : kDefs) {
        if (!d.in(scope)) continue;
        std::string type = type_name(d);
        if (d.type == T::integer || d.type == T::number) type += " " + fmt::format("{} to {}", d.lo, d.hi);
        // A model setting's default in a preset is the server's value of it.
        const std::string def = d.section ? "as `" + d.key() + "`" : code(d.default_value);
        out += fmt::format("| {} | {} | {} | {} |\n", code(d.name), type, def, escape(d.help));
    }
    return out;
}

}  // namespace kiln
