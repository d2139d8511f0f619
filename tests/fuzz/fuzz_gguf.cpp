// The GGUF header reader the catalog runs on every file in models/ (and on
// each pulled file): any bytes give metadata or an error, never a crash or
// a read past the file.
#include "fuzz_input.h"
#include "ggml.h"
#include "store/gguf_info.h"

// ggml explains each refused file on stderr: hundreds of megabytes a minute
// here, and most of the fuzzer's time. The refusal itself is what is tested.
extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    ggml_log_set([](ggml_log_level, const char *, void *) {}, nullptr);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    kiln::fuzz::MemFile file(std::string_view(reinterpret_cast<const char *>(data), size));
    (void)kiln::store::read_gguf_info(file.path());
    return 0;
}
