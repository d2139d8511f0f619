# Shared by the bench/ scripts: where the binaries and the benchmark model are.
# Sourced, not run. Sets: here, build, bin, threads, dir, model.

here=$(cd "$(dirname "${BASH_SOURCE[1]}")/.." && pwd)
build=${BUILD_DIR:-$here/build}
bin=$build/bin
threads=${THREADS:-$(nproc)}
dir=${KILN_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln/bench}
# llama, n_embd 1024, 16 layers, 16 heads, 4 KV heads, n_ff 2816, llama-spm
# vocab, Q8_0: ~250M parameters, trained context 8192.
model=$dir/llama-250m-spm-q8_0-8k.gguf

# require_bins NAME...: exits 2 naming the first missing binary.
require_bins() {
  for b in "$@"; do
    [ -x "$bin/$b" ] || { echo "$(basename "$0"): $bin/$b missing; run 'make bench'" >&2; exit 2; }
  done
}

# ensure_model: makes the benchmark model once.
ensure_model() {
  mkdir -p "$dir"
  [ -f "$model" ] && return 0
  echo "making the benchmark model (once)..." >&2
  "$bin/kiln-make-model" --arch llama --vocab llama-spm --n-embd 1024 --n-layer 16 --n-head 16 \
    --n-head-kv 4 --n-ff 2816 --ctx 8192 --type q8_0 --seed 1 -o "$model" >/dev/null
}
