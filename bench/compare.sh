#!/usr/bin/env bash
# kiln against llama-server, built from the same llama.cpp build, on the same
# generated model (llama, n_embd 1024, 16 layers, 16 heads, 4 KV heads,
# n_ff 2816, llama-spm vocab, Q8_0, ~250M parameters) and the same load, in
# one run. Each server runs alone (2 cores), started with matched settings:
# threads, concurrent sequences, total context, batch sizes, prompt caching on
# (llama-server's default). Each keeps its own attention default: kiln's
# `auto` is the matrix path on a CPU, llama-server's is flash attention
# (LLAMA_ARGS="-fa off" puts it on the matrix path too). `kiln bench` drives
# both; prompts carry a salt, so no run is served from an earlier run's cache.
#
# Scenarios (the targets of issue 3):
#   throughput: concurrency 1, 4, 8; ~200-token prompts; 128 generated tokens
#               target: kiln/llama-server output tokens/s >= 1.0
#   multi-turn: 8 users x 6 turns, a 1,000-token shared system prompt,
#               4 concurrent sequences; target: TTFT p50 ratio <= 0.6
#
# A request that fails (llama-server refuses prompts longer than its per-slot
# context, ctx/slots) is counted and reported, not fatal.
#
# Env: BUILD_DIR, THREADS (nproc), CTX (8192), SLOTS (4), KILN_BENCH_DIR,
#      QUICK=1 (fewer requests), SCENARIOS ("c1 c4 c8 mt"), TURNS (6),
#      REPS (2: each scenario runs kiln then llama-server, each fresh, REPS times),
#      KILN_ARGS / LLAMA_ARGS (more flags for either server).
set -euo pipefail

# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
ctx=${CTX:-8192}
slots=${SLOTS:-4}
salt="salt-$(date +%s%N)"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
require_bins kiln kiln-make-model llama-server
ensure_model

free_port() { node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'; }

# start NAME CMD...: runs a server in the background, waits for /health.
start() {
  local name=$1; shift
  "$@" >"$work/$name.log" 2>&1 &
  echo $! >"$work/$name.pid"
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$work/$name.pid")" 2>/dev/null || { cat "$work/$name.log" >&2; return 1; }
    sleep 0.2
  done
  echo "compare.sh: $name did not become healthy" >&2; return 1
}
stop() { kill "$(cat "$work/$1.pid")" 2>/dev/null; wait "$(cat "$work/$1.pid")" 2>/dev/null || true; }

# Multi-turn turns: 64-word messages and 48-token answers keep each
# conversation (1000 + 6 x ~130 tokens) inside llama-server's per-slot context
# (8192 / 4), so both servers can answer every turn.
scenarios=${SCENARIOS:-c1 c4 c8 mt}
reps=${REPS:-2}
per_client=${QUICK:+1}
# run_scenario NAME SCENARIO REP: one scenario against the server on $port.
run_scenario() {
  local name=$1 s=$2 rep=$3 url="http://127.0.0.1:$port" c
  local out="$work/$name-$s-$rep.json" salt_s="$salt-$name-$s-$rep"
  case $s in
    c*) c=${s#c}
        "$bin/kiln" bench --url "$url" -c "$c" -n "$((c * ${per_client:-$((c > 4 ? 2 : c > 1 ? 3 : 4))}))" -p 200 -g 128 \
          --salt "$salt_s" --json >"$out" || true ;;
    mt) "$bin/kiln" bench --url "$url" --multi-turn --users 8 --turns "${TURNS:-6}" --shared-prefix 1000 -p 64 -g 48 \
          --salt "$salt_s" --json >"$out" || true ;;
  esac
}

echo "model: $(basename "$model"), threads $threads, total context $ctx, $slots concurrent sequences, batch 512"
echo "kiln: $bin/kiln serve -m MODEL -t $threads -c $ctx --slots $slots -b 512 ${KILN_ARGS:-}" >&2
echo "llama-server: $bin/llama-server -m MODEL -t $threads -c $ctx -np $slots -b 512 -ub 512 ${LLAMA_ARGS:-}" >&2
echo "each scenario: kiln then llama-server, each on a fresh server, $reps times; medians below" >&2

# The servers alternate scenario by scenario (and repetition by repetition),
# so this VM's drift (10-20% over minutes) lands on both sides alike.
for s in $scenarios; do
  for rep in $(seq "$reps"); do
    port=$(free_port)
    start kiln env KILN_HOME="$work/home-$s-$rep" "$bin/kiln" serve --host 127.0.0.1 --port "$port" -m "$model" \
      -t "$threads" -c "$ctx" --slots "$slots" -b 512 ${KILN_ARGS:-}
    run_scenario kiln "$s" "$rep"
    stop kiln
    port=$(free_port)
    start llama-server "$bin/llama-server" --host 127.0.0.1 --port "$port" -m "$model" -t "$threads" -c "$ctx" \
      -np "$slots" -b 512 -ub 512 ${LLAMA_ARGS:-}
    run_scenario llama-server "$s" "$rep"
    stop llama-server
    echo "  $s run $rep done" >&2
  done
done

SCENARIOS="$scenarios" REPS="$reps" node - "$work" <<'JS'
const fs = require('fs');
const dir = process.argv[2];
const reps = Number(process.env.REPS);
// The median of each numeric field over the repetitions (counts summed).
const load = (n) => {
  const runs = [];
  for (let r = 1; r <= reps; ++r) runs.push(JSON.parse(fs.readFileSync(`${dir}/${n}-${r}.json`, 'utf8'))[0]);
  const median = (xs) => { const a = [...xs].sort((x, y) => x - y); const m = a.length >> 1; return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2; };
  const pick = (f) => median(runs.map(f));
  return {
    output_tokens_per_s: pick((r) => r.output_tokens_per_s),
    ttft_ms: { p50: pick((r) => r.ttft_ms.p50), p99: pick((r) => r.ttft_ms.p99) },
    client_cpu_cores: pick((r) => r.client_cpu_cores),
    cached_tokens: runs.reduce((a, r) => a + r.cached_tokens, 0),
    prompt_tokens: runs.reduce((a, r) => a + r.prompt_tokens, 0),
    failed: runs.reduce((a, r) => a + r.failed, 0),
    requests: runs.reduce((a, r) => a + r.requests, 0),
    first_error: runs.map((r) => r.first_error).find((e) => e) ?? '',
    each: runs.map((r) => r.output_tokens_per_s.toFixed(1)).join('/'),
  };
};
const rows = [];
let ok = true;
// target null: shown for what it tells, not one of issue 3's targets.
const row = (what, k, l, better, target) => {
  const ratio = k / l;
  if (target === null) {
    rows.push([what, k.toFixed(1), l.toFixed(1), ratio.toFixed(2), '-', '']);
    return;
  }
  const pass = better === 'higher' ? ratio >= target : ratio <= target;
  ok &&= pass;
  rows.push([what, k.toFixed(1), l.toFixed(1), ratio.toFixed(2), `${better === 'higher' ? '>=' : '<='} ${target}`, pass ? 'ok' : 'MISS']);
};
const scenarios = process.env.SCENARIOS.split(/\s+/).filter(Boolean);
const failures = (s, k, l) => {
  for (const [who, r] of [['kiln', k], ['llama-server', l]]) {
    if (r.failed) console.log(`${who}: ${r.failed} of ${r.requests} requests failed in ${s}: ${r.first_error}`);
  }
};
for (const c of scenarios.filter((s) => s !== 'mt')) {
  const k = load(`kiln-${c}`), l = load(`llama-server-${c}`);
  failures(c, k, l);
  row(`output tok/s, concurrency ${c.slice(1)}`, k.output_tokens_per_s, l.output_tokens_per_s, 'higher', 1.0);
  console.log(`runs, output tok/s, concurrency ${c.slice(1)}: kiln ${k.each}, llama-server ${l.each}`);
  row(`  TTFT p50 ms, concurrency ${c.slice(1)}`, k.ttft_ms.p50, l.ttft_ms.p50, 'lower', null);
}
if (scenarios.includes('mt')) {
  const k = load('kiln-mt'), l = load('llama-server-mt');
  failures('multi-turn', k, l);
  row('multi-turn TTFT p50 ms', k.ttft_ms.p50, l.ttft_ms.p50, 'lower', 0.6);
  row('multi-turn TTFT p99 ms', k.ttft_ms.p99, l.ttft_ms.p99, 'lower', null);
  row('multi-turn output tok/s', k.output_tokens_per_s, l.output_tokens_per_s, 'higher', null);
  console.log(`cached prompt share in multi-turn: kiln ${(100 * k.cached_tokens / k.prompt_tokens).toFixed(0)}%, ` +
    `llama-server ${(100 * l.cached_tokens / Math.max(1, l.prompt_tokens)).toFixed(0)}%`);
}
const w = [32, 10, 13, 7, 8, 5];
const line = (r) => r.map((x, i) => String(x).padStart(i ? w[i] : 0).padEnd(i ? 0 : w[0])).join(' ');
console.log(line(['metric', 'kiln', 'llama-server', 'ratio', 'target', '']));
for (const r of rows) console.log(line(r));
const cpu = scenarios.map((c) => `${c} ${load(`kiln-${c}`).client_cpu_cores.toFixed(2)}`).join(', ');
console.log(`load generator CPU (cores) during kiln's scenarios: ${cpu}`);
process.exit(ok ? 0 : 1);
JS
