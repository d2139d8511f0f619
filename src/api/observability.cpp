#include "api/observability.h"

#include <fmt/format.h>

#include "api/json_fields.h"

namespace kiln::api {

std::string slots_json(const std::string & model, const scheduler::Snapshot & s) {
    json slots = json::array();
    for (const auto & slot : s.slots) {
        slots.push_back(json{{"id", slot.id},
                             {"state", slot.state},
                             {"is_processing", slot.state == "prefill" || slot.state == "decode"},
                             {"n_tokens", slot.n_tokens},
                             {"n_prompt_tokens", slot.n_prompt},
                             {"n_decoded", slot.n_generated}});
    }
    return json{{"model", model},
                {"slots", std::move(slots)},
                {"queued", s.queued},
                {"kv_used", s.kv_used},
                {"kv_size", s.kv_size},
                {"n_ctx_seq", s.n_ctx_seq}}
        .dump();
}

namespace {

void counter(std::string & out, const char * name, const char * help, const std::string & labels, uint64_t v) {
    out += fmt::format("# HELP kiln_{0} {1}\n# TYPE kiln_{0} counter\nkiln_{0}{{{2}}} {3}\n", name, help, labels, v);
}

void gauge(std::string & out, const char * name, const char * help, const std::string & labels, double v) {
    out += fmt::format("# HELP kiln_{0} {1}\n# TYPE kiln_{0} gauge\nkiln_{0}{{{2}}} {3}\n", name, help, labels, v);
}

void histogram(std::string & out, const char * name, const char * help, const std::string & labels,
               const scheduler::Histogram & h) {
    out += fmt::format("# HELP kiln_{0} {1}\n# TYPE kiln_{0} histogram\n", name, help);
    for (size_t i = 0; i < h.bounds().size(); ++i) {
        out += fmt::format("kiln_{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, h.bounds()[i], h.cumulative(i));
    }
    out += fmt::format("kiln_{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, h.count());
    out += fmt::format("kiln_{}_sum{{{}}} {}\nkiln_{}_count{{{}}} {}\n", name, labels, h.sum(), name, labels, h.count());
}

}  // namespace

std::string metrics_text(const std::string & model, const scheduler::Metrics & m, const scheduler::Snapshot & s) {
    // Label values escape backslash, quote and newline.
    std::string escaped;
    for (char c : model) {
        if (c == '\\' || c == '"') escaped += '\\';
        if (c == '\n') {
            escaped += "\\n";
            continue;
        }
        escaped += c;
    }
    const std::string l = "model=\"" + escaped + "\"";
    std::string       out;
    counter(out, "requests_finished_total", "Requests that ran to the end.", l, m.requests_finished);
    counter(out, "requests_cancelled_total", "Requests cancelled by their client or by shutdown.", l, m.requests_cancelled);
    counter(out, "requests_refused_total", "Requests refused: queue full or prompt too long.", l, m.requests_refused);
    counter(out, "prompt_tokens_total", "Prompt tokens of admitted requests.", l, m.prompt_tokens);
    counter(out, "prompt_cached_tokens_total", "Prompt tokens reused from the prefix cache.", l, m.cached_prompt_tokens);
    counter(out, "generated_tokens_total", "Tokens sampled.", l, m.generated_tokens);
    counter(out, "decode_steps_total", "Batches decoded.", l, m.decode_steps);
    counter(out, "preemptions_total", "Requests paused to free KV cells.", l, m.preemptions);
    counter(out, "evicted_prefixes_total", "Cached prefixes dropped for good (KV or host cache full).", l, m.evicted_prefixes);
    counter(out, "spilled_prefixes_total", "Cached prefixes moved from the KV pool to host memory.", l, m.spilled_prefixes);
    counter(out, "restored_prefixes_total", "Cached prefixes copied back from host memory for a request.", l,
            m.restored_prefixes);
    gauge(out, "queue_depth", "Requests waiting for a slot.", l, s.queued);
    int busy = 0;
    for (const auto & slot : s.slots) busy += slot.state == "prefill" || slot.state == "decode";
    gauge(out, "slots_busy", "Slots running a request.", l, busy);
    gauge(out, "kv_cells_used", "KV cells in use (running and cached).", l, s.kv_used);
    gauge(out, "kv_cells", "KV cells in the pool.", l, s.kv_size);
    gauge(out, "host_cache_bytes", "Host memory held by cached prefixes moved out of the KV pool.", l,
          m.host_cache_bytes.load());
    histogram(out, "time_to_first_token_seconds", "From arrival to the first token.", l, m.ttft_seconds);
    histogram(out, "decode_step_seconds", "Time of one batch step (inter-token latency).", l, m.step_seconds);
    return out;
}

}  // namespace kiln::api
