// The GGUF header reader the catalog runs on every file in models/ (and on
// each pulled file): any bytes give metadata or an error, never a crash or
// a read past the file.
#include "fuzz_input.h"
#include "store/gguf_info.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    kiln::fuzz::MemFile file(std::string_view(reinterpret_cast<const char *>(data), size));
    (void)kiln::store::read_gguf_info(file.path());
    return 0;
}
