// llama-server style observability: GET /slots (JSON) and GET /metrics
// (Prometheus text exposition format 0.0.4).
#pragma once

#include <string>
#include <vector>

#include "core/process_stats.h"
#include "scheduler/metrics.h"
#include "scheduler/scheduler.h"

namespace kiln::api {

std::string slots_json(const std::string & model, const scheduler::Snapshot & snapshot);
// One loaded model's numbers, labelled model="...".
struct ModelMetrics {
    std::string                model;
    const scheduler::Metrics * metrics = nullptr;
    scheduler::Snapshot        snapshot;
};
// Each metric family once (HELP, TYPE), with one sample per model.
std::string metrics_text(const std::vector<ModelMetrics> & models);

// The HTTP server's connections (kiln_http_connections_*).
struct ConnectionCounts {
    int64_t open      = 0;
    int64_t accepted  = 0;
    int64_t refused   = 0;
    int64_t timed_out = 0;
};
std::string connection_metrics_text(const ConnectionCounts & c);

// The process's memory and threads (kiln_process_*).
std::string process_metrics_text(const ProcessStats & p);

}  // namespace kiln::api
