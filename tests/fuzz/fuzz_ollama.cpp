// Ollama's request bodies: generate, chat, embed (both forms), create (with
// its Modelfile), copy, pull, and the bare {model} of show and delete.
#include "api/ollama_chat.h"
#include "api/ollama_models.h"
#include "api/ollama_pull.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    using namespace kiln::api::ollama;
    const auto in = kiln::fuzz::pick(data, size);
    switch (in.which % 8) {
        case 0: (void)parse_generate(in.rest); break;
        case 1: (void)parse_chat(in.rest); break;
        case 2: (void)parse_embed(in.rest); break;
        case 3: (void)parse_embeddings_legacy(in.rest); break;
        case 4: (void)parse_create(in.rest); break;
        case 5: (void)parse_copy(in.rest); break;
        case 6: (void)parse_pull(in.rest); break;
        case 7: (void)parse_model_name(in.rest); break;
    }
    return 0;
}
