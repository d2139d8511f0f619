// The front half of fuzz_template: a chat template's lexer and parser alone.
// Rendering bounds each input by steps, so fuzz_template runs ~150 inputs a
// second and can't cover the grammar deeply in a CI-sized run; this target
// takes the same inputs (first byte ignored, as there) at parser speed, so
// that the code every template passes through first gets millions.
#include <exception>
#include <string>

#include "fuzz_input.h"
#include "jinja/lexer.h"
#include "jinja/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    const auto        in = kiln::fuzz::pick(data, size);
    const std::string source(in.rest);
    try {
        jinja::lexer lexer;
        auto         tokens = lexer.tokenize(source);
        (void)jinja::parse_from_tokens(tokens);
    } catch (const std::exception &) {
        // refused: what a bad template must get
    }
    return 0;
}
