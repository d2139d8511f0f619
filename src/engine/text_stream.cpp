#include "engine/text_stream.h"

namespace kiln::engine {

TextStream::TextStream(const Model & model, std::vector<std::string> stops, bool ignore_eos)
    : model_(model), detok_(model), stops_(std::move(stops)), ignore_eos_(ignore_eos) {}

TextStream::Step TextStream::push(llama_token token) {
    if (!ignore_eos_ && model_.is_eog(token)) return {finish(), true};
    Step s;
    s.text = stops_.push(detok_.push(token));
    s.stop = stops_.stopped();
    return s;
}

std::string TextStream::finish() {
    if (stops_.stopped()) return {};
    std::string tail = stops_.push(detok_.flush());
    if (!stops_.stopped()) tail += stops_.flush();
    return tail;
}

}  // namespace kiln::engine
