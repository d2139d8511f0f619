// What the Hugging Face API answers: a page of a repository's file tree,
// and a search. (A hostile or broken mirror may answer anything.)
#include "fuzz_input.h"
#include "store/hf_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    const auto in = kiln::fuzz::pick(data, size);
    if (in.which & 1) {
        (void)kiln::store::parse_search(in.rest);
    } else {
        (void)kiln::store::parse_file_list(in.rest);
    }
    return 0;
}
