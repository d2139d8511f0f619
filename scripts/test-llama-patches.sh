#!/usr/bin/env bash
# Builds llama.cpp's own tests of the code deps/patches/ changes, from the
# patched tree kiln builds, and runs them: test-jinja (its Jinja engine, with
# the tests the patches add) and test-chat-template (every real model's
# template in models/templates renders as before). See docs/bump-llama.md.
#
# Env: LLAMA_TESTS_BUILD_DIR (default build-llama-tests), JOBS.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=$("$here/scripts/fetch-llama.sh" | tail -1)
build=${LLAMA_TESTS_BUILD_DIR:-$here/build-llama-tests}
tests=(test-jinja test-chat-template)

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_TESTS=ON -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=OFF "${launcher[@]}" >/dev/null
cmake --build "$build" --target "${tests[@]}" -j "${JOBS:-$(nproc)}"
cd "$src"
for t in "${tests[@]}"; do
  echo "== $t"
  "$build/bin/$t" >"$build/$t.log" 2>&1 || { tail -40 "$build/$t.log"; echo "$t FAILED (log: $build/$t.log)"; exit 1; }
  tail -3 "$build/$t.log"
done
echo "llama.cpp tests of the patched tree: passed"
