// Stop strings over streamed text. Text that could still turn into a stop
// string is held back, so no stop string (or a prefix of one that completes
// later) ever reaches the client. Pure logic, no llama.cpp.
#pragma once

#include <string>
#include <vector>

namespace kiln::engine {

class StopMatcher {
  public:
    explicit StopMatcher(std::vector<std::string> stops);

    // Feeds newly generated text. Returns the text that is now safe to emit.
    // After a stop string is found, stopped() is true and the returned text
    // ends right before it; further input is ignored.
    std::string push(const std::string & text);
    // The held-back text at the end of generation (no stop string followed).
    std::string flush();

    bool                stopped() const { return stopped_; }
    const std::string & matched() const { return matched_; }

  private:
    std::vector<std::string> stops_;
    std::string              held_;
    std::string              matched_;
    bool                     stopped_ = false;
};

}  // namespace kiln::engine
