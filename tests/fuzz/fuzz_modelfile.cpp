// Ollama Modelfiles (kiln create -f, /api/create's modelfile).
#include "fuzz_input.h"
#include "store/modelfile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    (void)kiln::store::parse_modelfile(std::string_view(reinterpret_cast<const char *>(data), size));
    return 0;
}
