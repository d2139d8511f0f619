// One answer's text as its tokens arrive: incremental detokenization (never
// splitting a UTF-8 character), end-of-generation tokens and stop strings.
// Not thread-safe; belongs to one request.
#pragma once

#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/stop_matcher.h"
#include "llama.h"

namespace kiln::engine {

class TextStream {
  public:
    TextStream(const Model & model, std::vector<std::string> stops, bool ignore_eos);
    // Control tokens that come out as their text (see Detokenizer::show).
    void show(std::vector<llama_token> tokens) { detok_.show(std::move(tokens)); }

    struct Step {
        std::string text;  // final text to emit now (may be empty)
        bool        stop = false;  // EOS or a stop string: the answer is complete
    };
    Step push(llama_token token);
    // Text still held at the end (unless a stop string matched).
    std::string finish();
    // The stop string that ended the answer; empty if none did.
    const std::string & stop_string() const { return stops_.matched(); }

  private:
    const Model & model_;
    Detokenizer   detok_;
    StopMatcher   stops_;
    bool          ignore_eos_;
};

}  // namespace kiln::engine
