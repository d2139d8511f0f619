// Anthropic's Messages bodies, and count_tokens' form of them.
#include "api/anthropic.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    const auto in = kiln::fuzz::pick(data, size);
    (void)kiln::api::anthropic::parse_messages(in.rest, in.which & 1);
    return 0;
}
