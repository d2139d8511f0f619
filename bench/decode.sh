#!/usr/bin/env bash
# Decode speed of kiln against llama-bench, both from the same llama.cpp build,
# on the same generated model and thread count. Prints tokens/s and the ratio;
# exits 1 if kiln reaches less than KILN_BENCH_MIN_RATIO (default 0.95) of it.
#
# Model: llama, n_embd 1024, 16 layers, 16 heads, 4 KV heads, n_ff 2816,
# llama-spm vocab, Q8_0 (~250M parameters), made once into the bench cache.
#
# Both run the same attention kernels: FA (off, kiln's auto on a CPU; on)
# goes to either, since the loop's cost, not the kernel, is what is measured.
#
# Env: BUILD_DIR (build), THREADS (nproc), REPS (7), N_GEN (128), FA (off),
#      KILN_BENCH_DIR (~/.cache/kiln/bench), KILN_BENCH_MIN_RATIO (0.95).

set -euo pipefail

# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
reps=${REPS:-7}
n_gen=${N_GEN:-128}
min_ratio=${KILN_BENCH_MIN_RATIO:-0.95}
fa=${FA:-off}
require_bins kiln kiln-make-model llama-bench
ensure_model

echo "model: $(basename "$model") ($(du -m "$model" | cut -f1) MiB), threads: $threads, tokens: $n_gen, reps: $reps, flash attention: $fa"

# Runs alternate (llama-bench, kiln, llama-bench, ...) so that drift in the
# machine's speed hits both alike; each side reports its median.
# llama-bench: pure decode of n_gen tokens from an empty context.
lb_once() {
  "$bin/llama-bench" -m "$model" -p 0 -n "$n_gen" -t "$threads" -fa "$fa" -r 1 -o json 2>/dev/null |
    node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () =>
      console.log(JSON.parse(s)[0].avg_ts.toFixed(2)))'
}
# kiln: the whole generation loop (decode, sampling, detokenization, stop
# strings, the scheduler), with a context as small as llama-bench's.
kiln_once() {
  local out n tps
  out=$("$bin/kiln" run "$model" "Tell me a story." -n "$n_gen" --ignore-eos --seed 1 -t "$threads" -c 256 \
    --flash-attn "$fa" --verbose 2>&1 >/dev/null)
  read -r n tps < <(sed -n 's/.*generated: \([0-9]*\) tokens, \([0-9.]*\) tok\/s.*/\1 \2/p' <<<"$out")
  [ "$n" = "$n_gen" ] || { echo "decode.sh: kiln generated '$n' tokens, expected $n_gen: $out" >&2; exit 1; }
  echo "$tps"
}
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

lb_once >/dev/null; kiln_once >/dev/null  # warm-up: page cache, CPU frequency
lb_runs=(); kiln_runs=()
for _ in $(seq "$reps"); do
  lb_runs+=("$(lb_once)")
  kiln_runs+=("$(kiln_once)")
done
lb_tps=$(printf '%s\n' "${lb_runs[@]}" | median)
kiln_tps=$(printf '%s\n' "${kiln_runs[@]}" | median)

ratio=$(awk -v a="$kiln_tps" -v b="$lb_tps" 'BEGIN {printf "%.3f", a/b}')
printf '%-14s %10s   (median of %s alternating runs)\n' "runner" "tokens/s" "$reps"
printf '%-14s %10s   (runs: %s)\n' "llama-bench" "$lb_tps" "${lb_runs[*]}"
printf '%-14s %10s   (runs: %s)\n' "kiln" "$kiln_tps" "${kiln_runs[*]}"
printf 'ratio kiln/llama-bench: %s (target >= %s)\n' "$ratio" "$min_ratio"
awk -v r="$ratio" -v m="$min_ratio" 'BEGIN {exit !(r >= m)}' || { echo "FAIL: kiln is below the target" >&2; exit 1; }
echo "PASS"
