#!/usr/bin/env bash
# Runs each libFuzzer target of build-fuzz/ for FUZZ_SECONDS (default 60) on
# a working corpus grown from tests/fuzz/corpus/<target>/, and prints a
# table: executions, corpus size, crashes, leaks, timeouts. Exits non-zero
# if any target found one; its input is kept in build-fuzz/fuzz-artifacts/
# (make it a regression test: a seed in tests/fuzz/corpus/ plus a unit test).
#
# Env: FUZZ_SECONDS, FUZZ_RUNS (stop a target after this many executions
#      instead, e.g. 10000000 for a long run), FUZZ_TARGETS (space-separated names, default all),
#      FUZZ_BUILD_DIR (default build-fuzz), FUZZ_JOBS (parallel targets, default 2).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$here/build-fuzz}
secs=${FUZZ_SECONDS:-60}
limit=(-max_total_time="$secs")
[ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$FUZZ_RUNS")
jobs=${FUZZ_JOBS:-2}
targets=${FUZZ_TARGETS:-$(cd "$build/fuzz" && ls fuzz_* | sed 's/^fuzz_//')}
work=$build/fuzz-corpus
artifacts=$build/fuzz-artifacts
logs=$build/fuzz-logs
mkdir -p "$work" "$artifacts" "$logs"

run_one() {
  local t=$1
  local seeds=$t
  [ "$t" = template_parse ] && seeds=template  # the same inputs, parsed only
  mkdir -p "$work/$t"
  [ -d "$here/tests/fuzz/corpus/$seeds" ] && cp -n "$here/tests/fuzz/corpus/$seeds"/* "$work/$t/" 2>/dev/null
  if [ "$seeds" = template ]; then
    # real models' chat templates (llama.cpp's test set) as seeds too, each
    # seeing a conversation with tools (selector byte '2')
    local llama f
    llama=$("$here/scripts/fetch-llama.sh" | tail -1)
    for f in "$llama"/models/templates/*.jinja; do
      [ -f "$work/$t/llama-$(basename "$f")" ] || { printf 2; cat "$f"; } >"$work/$t/llama-$(basename "$f")"
    done
  fi
  # -timeout: one input may take at most 10 s; -rss_limit_mb: a parser that
  # balloons is a finding too. detect_leaks: LeakSanitizer after every run.
  ASAN_OPTIONS=detect_leaks=1 "$build/fuzz/fuzz_$t" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/$t-" "$work/$t" >"$logs/$t.log" 2>&1
  echo $? >"$logs/$t.rc"
}

active=0
for t in $targets; do
  run_one "$t" &
  active=$((active + 1))
  if [ "$active" -ge "$jobs" ]; then wait -n; active=$((active - 1)); fi
done
wait

failed=0
printf '%-10s %14s %8s %8s %s\n' target executions exec/s corpus result
for t in $targets; do
  log=$logs/$t.log
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  corpus=$(ls "$work/$t" | wc -l)
  rc=$(cat "$logs/$t.rc")
  result=ok
  if [ "$rc" != 0 ]; then
    result="FAILED (rc $rc): $(grep -m1 -E 'ERROR: |SUMMARY: |timeout|out-of-memory' "$log" | cut -c1-120)"
    failed=1
  fi
  printf '%-10s %14s %8s %8s %s\n' "$t" "${execs:-?}" "${rate:-?}" "$corpus" "$result"
done
if [ "$failed" != 0 ]; then
  echo "fuzz: findings above; logs in $logs, inputs in $artifacts" >&2
  exit 1
fi
