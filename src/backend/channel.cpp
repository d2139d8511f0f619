#include "backend/types.h"

namespace kiln::backend {

const char * finish_reason_name(FinishReason reason) {
    switch (reason) {
        case FinishReason::stop:      return "stop";
        case FinishReason::length:    return "length";
        case FinishReason::cancelled: return "cancelled";
        case FinishReason::tool_calls: return "tool_calls";
    }
    return "stop";
}

void Channel::push(Event e) {
    {
        std::lock_guard lock(mutex_);
        events_.push_back(std::move(e));
    }
    cv_.notify_one();
}

std::optional<Event> Channel::pop(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
    Event e = std::move(events_.front());
    events_.pop_front();
    return e;
}

}  // namespace kiln::backend
