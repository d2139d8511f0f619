// An upstream server's SSE stream (process and remote backends), cut into
// chunks wherever the input says: events must not depend on the chunking
// of the bytes, and nothing may crash.
#include <cassert>

#include "api/openai.h"
#include "api/openai_upstream.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    const auto in = kiln::fuzz::pick(data, size);
    const size_t step = 1 + in.which % 64;
    kiln::api::openai::UpstreamReader chunked, whole;
    size_t events = 0;
    for (size_t i = 0; i < in.rest.size() && !chunked.finished(); i += step) events += chunked.feed(in.rest.substr(i, step)).size();
    (void)chunked.end();
    const size_t all = whole.feed(in.rest).size();
    (void)whole.end();
    if (!chunked.finished() && !whole.finished() && events != all) __builtin_trap();  // chunking changed the events
    return 0;
}
