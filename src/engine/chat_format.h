// Private to engine/: the parser state of a rendered chat (llama.cpp's PEG
// parser for the template's format). Only chat_template.cpp and
// chat_output.cpp include it; everyone else holds it as an opaque pointer.
#pragma once

#include "chat.h"

namespace kiln::engine {

struct ChatFormat {
    common_chat_parser_params params;
};

}  // namespace kiln::engine
