// llama-server style observability: GET /slots (JSON) and GET /metrics
// (Prometheus text exposition format 0.0.4).
#pragma once

#include <string>

#include "scheduler/metrics.h"
#include "scheduler/scheduler.h"

namespace kiln::api {

std::string slots_json(const std::string & model, const scheduler::Snapshot & snapshot);
std::string metrics_text(const std::string & model, const scheduler::Metrics & metrics,
                         const scheduler::Snapshot & snapshot);

}  // namespace kiln::api
