// OpenAI's request bodies: chat, completions, embeddings, Responses, rerank,
// and llama-server's tokenize/detokenize. Each must answer a value or a
// clear error, whatever the bytes.
#include "api/openai.h"
#include "api/rerank.h"
#include "api/responses.h"
#include "api/utility.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    using namespace kiln::api;
    const auto in = kiln::fuzz::pick(data, size);
    switch (in.which % 7) {
        case 0: (void)openai::parse_chat(in.rest); break;
        case 1: (void)openai::parse_completion(in.rest); break;
        case 2: (void)openai::parse_embeddings(in.rest); break;
        case 3: (void)responses::parse(in.rest); break;
        case 4: (void)rerank::parse(in.rest); break;
        case 5: (void)utility::parse_tokenize(in.rest); break;
        case 6: (void)utility::parse_detokenize(in.rest); break;
    }
    return 0;
}
