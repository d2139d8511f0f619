// One-time process setup of llama.cpp: backends and the log bridge.
// Safe to call from any thread, any number of times.
#pragma once

namespace kiln::engine {

void init_llama();

}  // namespace kiln::engine
