// A token's id in a model's vocabulary: llama.cpp's llama_token, named here
// so that the layers above the engine carry token ids without llama.cpp's
// headers (engine/model.cpp checks that the two are the same type).
#pragma once

#include <cstdint>

namespace kiln {

using Token = int32_t;

}  // namespace kiln
