#include "api/observability.h"

#include <functional>

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

std::string label(const std::string & model) {
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
    return "model=\"" + escaped + "\"";
}

using Sample = std::function<double(const ModelMetrics &)>;

void family(std::string & out, const std::vector<ModelMetrics> & models, const char * type, const char * name,
            const char * help, const Sample & value) {
    out += fmt::format("# HELP kiln_{0} {1}\n# TYPE kiln_{0} {2}\n", name, help, type);
    for (const auto & m : models) out += fmt::format("kiln_{}{{{}}} {}\n", name, label(m.model), value(m));
}

void histogram(std::string & out, const std::vector<ModelMetrics> & models, const char * name, const char * help,
               const scheduler::Histogram scheduler::Metrics::*field) {
    out += fmt::format("# HELP kiln_{0} {1}\n# TYPE kiln_{0} histogram\n", name, help);
    for (const auto & m : models) {
        const auto &      h = m.metrics->*field;
        const std::string l = label(m.model);
        for (size_t i = 0; i < h.bounds().size(); ++i) {
            out += fmt::format("kiln_{}_bucket{{{},le=\"{}\"}} {}\n", name, l, h.bounds()[i], h.cumulative(i));
        }
        out += fmt::format("kiln_{}_bucket{{{},le=\"+Inf\"}} {}\n", name, l, h.count());
        out += fmt::format("kiln_{}_sum{{{}}} {}\nkiln_{}_count{{{}}} {}\n", name, l, h.sum(), name, l, h.count());
    }
}

}  // namespace

std::string metrics_text(const std::vector<ModelMetrics> & models) {
    std::string out;
    auto counter = [&](const char * name, const char * help, const Sample & v) { family(out, models, "counter", name, help, v); };
    auto gauge   = [&](const char * name, const char * help, const Sample & v) { family(out, models, "gauge", name, help, v); };
#define KILN_COUNT(field) [](const ModelMetrics & m) { return static_cast<double>(m.metrics->field); }
    counter("requests_finished_total", "Requests that ran to the end.", KILN_COUNT(requests_finished));
    counter("requests_cancelled_total", "Requests cancelled by their client or by shutdown.", KILN_COUNT(requests_cancelled));
    counter("requests_refused_total", "Requests refused: queue full or prompt too long.", KILN_COUNT(requests_refused));
    counter("prompt_tokens_total", "Prompt tokens of admitted requests.", KILN_COUNT(prompt_tokens));
    counter("prompt_cached_tokens_total", "Prompt tokens reused from the prefix cache.", KILN_COUNT(cached_prompt_tokens));
    counter("generated_tokens_total", "Tokens sampled.", KILN_COUNT(generated_tokens));
    counter("decode_steps_total", "Batches decoded.", KILN_COUNT(decode_steps));
    counter("preemptions_total", "Requests paused to free KV cells.", KILN_COUNT(preemptions));
    counter("evicted_prefixes_total", "Cached prefixes dropped for good (KV or host cache full).", KILN_COUNT(evicted_prefixes));
    counter("spilled_prefixes_total", "Cached prefixes moved from the KV pool to host memory.", KILN_COUNT(spilled_prefixes));
    counter("restored_prefixes_total", "Cached prefixes copied back from host memory for a request.",
            KILN_COUNT(restored_prefixes));
#undef KILN_COUNT
    gauge("queue_depth", "Requests waiting for a slot.", [](const ModelMetrics & m) { return double(m.snapshot.queued); });
    gauge("slots_busy", "Slots running a request.", [](const ModelMetrics & m) {
        int busy = 0;
        for (const auto & slot : m.snapshot.slots) busy += slot.state == "prefill" || slot.state == "decode";
        return double(busy);
    });
    gauge("kv_cells_used", "KV cells in use (running and cached).", [](const ModelMetrics & m) { return double(m.snapshot.kv_used); });
    gauge("kv_cells", "KV cells in the pool.", [](const ModelMetrics & m) { return double(m.snapshot.kv_size); });
    gauge("host_cache_bytes", "Host memory held by cached prefixes moved out of the KV pool.",
          [](const ModelMetrics & m) { return double(m.metrics->host_cache_bytes.load()); });
    histogram(out, models, "time_to_first_token_seconds", "From arrival to the first token.", &scheduler::Metrics::ttft_seconds);
    histogram(out, models, "decode_step_seconds", "Time of one batch step (inter-token latency).",
              &scheduler::Metrics::step_seconds);
    return out;
}

namespace {
// One metric family with one unlabelled sample.
void one_sample(std::string & out, const char * name, const char * type, const char * help, int64_t v) {
    out += fmt::format("# HELP kiln_{} {}\n# TYPE kiln_{} {}\nkiln_{} {}\n", name, help, name, type, name, v);
}
}  // namespace

std::string connection_metrics_text(const ConnectionCounts & c) {
    std::string out;
    auto one = [&out](const char * name, const char * type, const char * help, int64_t v) { one_sample(out, name, type, help, v); };
    one("http_connections_open", "gauge", "HTTP connections open now.", c.open);
    one("http_connections_accepted_total", "counter", "HTTP connections taken.", c.accepted);
    one("http_connections_refused_total", "counter", "HTTP connections answered 503: too many open, in all or from one address.",
        c.refused);
    one("http_connections_timed_out_total", "counter",
        "HTTP connections closed by a deadline: headers, body, or a client that stopped reading its answer.", c.timed_out);
    return out;
}

std::string process_metrics_text(const ProcessStats & p) {
    std::string out;
    one_sample(out, "process_resident_bytes", "gauge", "Resident memory of the kiln process (VmRSS).", p.resident_bytes);
    one_sample(out, "process_threads", "gauge", "Threads of the kiln process.", p.threads);
    if (p.heap_in_use_bytes) {
        one_sample(out, "process_heap_in_use_bytes", "gauge", "Memory the allocator has handed out and not had back.",
                   *p.heap_in_use_bytes);
    }
    if (p.heap_free_bytes) {
        one_sample(out, "process_heap_free_bytes", "gauge", "Memory freed but still held by the allocator for reuse.",
                   *p.heap_free_bytes);
    }
    return out;
}

}  // namespace kiln::api
