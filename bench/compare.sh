#!/usr/bin/env bash
# kiln against llama-server, built from the same llama.cpp build, on the same
# generated model (llama, n_embd 1024, 16 layers, 16 heads, 4 KV heads,
# n_ff 2816, llama-spm vocab, Q8_0, ~250M parameters) and the same load, in
# one run. Each server runs alone (2 cores), started with matched settings:
# threads, concurrent sequences, total context, batch sizes, prompt caching on
# (llama-server's default). `kiln bench` drives both; prompts carry a salt,
# so no run is served from an earlier run's cache.
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
#      QUICK=1 (fewer requests), SCENARIOS ("c1 c4 c8 mt"), TURNS (6).
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
per_client=${QUICK:+1}
run_load() {  # NAME: the scenarios against the server on $port, JSON into $work
  local name=$1 url="http://127.0.0.1:$port" s c
  for s in $scenarios; do
    case $s in
      c*) c=${s#c}
          "$bin/kiln" bench --url "$url" -c "$c" -n "$((c * ${per_client:-$((c > 4 ? 2 : c > 1 ? 3 : 4))}))" -p 200 -g 128 \
            --salt "$salt-$name-$s" --json >"$work/$name-$s.json" || true ;;
      mt) "$bin/kiln" bench --url "$url" --multi-turn --users 8 --turns "${TURNS:-6}" --shared-prefix 1000 -p 64 -g 48 \
            --salt "$salt-$name-mt" --json >"$work/$name-mt.json" || true ;;
    esac
  done
}

echo "model: $(basename "$model"), threads $threads, total context $ctx, $slots concurrent sequences, batch 512"

port=$(free_port)
echo "kiln: $bin/kiln serve -m MODEL -t $threads -c $ctx --slots $slots -b 512" >&2
start kiln env KILN_HOME="$work/home" "$bin/kiln" serve --host 127.0.0.1 --port "$port" -m "$model" -t "$threads" \
  -c "$ctx" --slots "$slots" -b 512
run_load kiln
stop kiln

port=$(free_port)
echo "llama-server: $bin/llama-server -m MODEL -t $threads -c $ctx -np $slots -b 512 -ub 512" >&2
start llama-server "$bin/llama-server" --host 127.0.0.1 --port "$port" -m "$model" -t "$threads" -c "$ctx" \
  -np "$slots" -b 512 -ub 512
run_load llama-server
stop llama-server

SCENARIOS="$scenarios" node - "$work" <<'JS'
const fs = require('fs');
const dir = process.argv[2];
const load = (n) => JSON.parse(fs.readFileSync(`${dir}/${n}.json`, 'utf8'))[0];
const rows = [];
let ok = true;
const row = (what, k, l, better, target) => {
  const ratio = k / l;
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
  row(`  TTFT p50 ms, concurrency ${c.slice(1)}`, k.ttft_ms.p50, l.ttft_ms.p50, 'lower', 1.0);
}
if (scenarios.includes('mt')) {
  const k = load('kiln-mt'), l = load('llama-server-mt');
  failures('multi-turn', k, l);
  row('multi-turn TTFT p50 ms', k.ttft_ms.p50, l.ttft_ms.p50, 'lower', 0.6);
  row('multi-turn TTFT p99 ms', k.ttft_ms.p99, l.ttft_ms.p99, 'lower', 1.0);
  row('multi-turn output tok/s', k.output_tokens_per_s, l.output_tokens_per_s, 'higher', 1.0);
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
