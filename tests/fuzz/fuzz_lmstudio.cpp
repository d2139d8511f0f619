// LM Studio's bodies: /api/v1/chat, model download, load and unload.
#include "api/lmstudio.h"
#include "api/models_api.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    using namespace kiln::api;
    const auto in = kiln::fuzz::pick(data, size);
    switch (in.which % 4) {
        case 0: (void)lmstudio::parse_v1_chat(in.rest); break;
        case 1: (void)lmstudio::parse_download(in.rest); break;
        case 2: (void)parse_load(in.rest); break;
        case 3: (void)parse_unload(in.rest); break;
    }
    return 0;
}
