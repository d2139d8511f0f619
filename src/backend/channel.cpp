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
    std::shared_ptr<Doorbell> bell;
    {
        std::lock_guard lock(mutex_);
        events_.push_back(std::move(e));
        bell = bell_;
    }
    cv_.notify_one();
    if (bell) bell->ring();
}

void Channel::attach(std::shared_ptr<Doorbell> bell) {
    std::lock_guard lock(mutex_);
    bell_ = std::move(bell);
}

void Doorbell::ring() {
    {
        std::lock_guard lock(mutex_);
        ++rings_;
    }
    cv_.notify_all();
}

uint64_t Doorbell::rings() {
    std::lock_guard lock(mutex_);
    return rings_;
}

void Doorbell::wait(uint64_t seen, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return rings_ != seen; });
}

ChannelGroup::ChannelGroup(std::vector<std::shared_ptr<Channel>> channels) : channels_(std::move(channels)) {
    for (auto & c : channels_) c->attach(bell_);
}

std::optional<std::pair<size_t, Event>> ChannelGroup::pop(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        // A push after this read rings the bell; one before it is found below.
        const uint64_t seen = bell_->rings();
        for (size_t k = 0; k < channels_.size(); ++k) {
            const size_t i = (next_ + k) % channels_.size();
            if (auto ev = channels_[i]->pop(std::chrono::milliseconds(0))) {
                next_ = i + 1;
                return std::make_pair(i, std::move(*ev));
            }
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return std::nullopt;
        bell_->wait(seen, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) + std::chrono::milliseconds(1));
    }
}

void ChannelGroup::cancel() {
    for (auto & c : channels_) c->cancel();
}

std::optional<Event> Channel::pop(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
    Event e = std::move(events_.front());
    events_.pop_front();
    return e;
}

}  // namespace kiln::backend
