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
# Env: BUILD_DIR, THREADS (nproc), CTX (8192), SLOTS (4), KILN_BENCH_DIR, QUICK=1 (fewer requests).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build}
bin=$build/bin
threads=${THREADS:-$(nproc)}
ctx=${CTX:-8192}
slots=${SLOTS:-4}
dir=${KILN_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln/bench}
model=$dir/llama-250m-spm-q8_0-8k.gguf
salt="salt-$(date +%s%N)"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

for b in kiln kiln-make-model llama-server; do
  [ -x "$bin/$b" ] || { echo "compare.sh: $bin/$b missing; run 'make bench'" >&2; exit 2; }
done
mkdir -p "$dir"
if [ ! -f "$model" ]; then
  echo "making the benchmark model (once)..." >&2
  "$bin/kiln-make-model" --arch llama --vocab llama-spm --n-embd 1024 --n-layer 16 --n-head 16 \
    --n-head-kv 4 --n-ff 2816 --ctx 8192 --type q8_0 --seed 1 -o "$model" >/dev/null
fi

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

throughput_reqs=${QUICK:+2}
run_load() {  # NAME: both scenarios against the server on $port, JSON into $work
  local name=$1 url="http://127.0.0.1:$port"
  "$bin/kiln" bench --url "$url" -c 1 -n "${throughput_reqs:-4}" -p 200 -g 128 --salt "$salt-$name-c1" --json \
    >"$work/$name-c1.json"
  "$bin/kiln" bench --url "$url" -c 4 -n "$((4 * ${throughput_reqs:-3}))" -p 200 -g 128 --salt "$salt-$name-c4" --json \
    >"$work/$name-c4.json"
  "$bin/kiln" bench --url "$url" -c 8 -n "$((8 * ${throughput_reqs:-2}))" -p 200 -g 128 --salt "$salt-$name-c8" --json \
    >"$work/$name-c8.json"
  "$bin/kiln" bench --url "$url" --multi-turn --users 8 --turns "${TURNS:-6}" --shared-prefix 1000 -p 100 -g 64 \
    --salt "$salt-$name-mt" --json >"$work/$name-mt.json"
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

node - "$work" <<'JS'
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
for (const c of ['c1', 'c4', 'c8']) {
  const k = load(`kiln-${c}`), l = load(`llama-server-${c}`);
  for (const r of [k, l]) if (r.failed) console.error(`failed requests at ${c}: ${r.first_error}`);
  row(`output tok/s, concurrency ${c.slice(1)}`, k.output_tokens_per_s, l.output_tokens_per_s, 'higher', 1.0);
  row(`  TTFT p50 ms, concurrency ${c.slice(1)}`, k.ttft_ms.p50, l.ttft_ms.p50, 'lower', 1.0);
}
const k = load('kiln-mt'), l = load('llama-server-mt');
for (const r of [k, l]) if (r.failed) console.error(`failed requests in multi-turn: ${r.first_error}`);
row('multi-turn TTFT p50 ms', k.ttft_ms.p50, l.ttft_ms.p50, 'lower', 0.6);
row('multi-turn TTFT p99 ms', k.ttft_ms.p99, l.ttft_ms.p99, 'lower', 1.0);
row('multi-turn output tok/s', k.output_tokens_per_s, l.output_tokens_per_s, 'higher', 1.0);
const w = [32, 10, 13, 7, 8, 5];
const line = (r) => r.map((x, i) => String(x).padStart(i ? w[i] : 0).padEnd(i ? 0 : w[0])).join(' ');
console.log(line(['metric', 'kiln', 'llama-server', 'ratio', 'target', '']));
for (const r of rows) console.log(line(r));
const cpu = ['c1', 'c4', 'c8', 'mt'].map((c) => load(`kiln-${c}`).client_cpu_cores.toFixed(2)).join(', ');
console.log(`load generator CPU (cores) during kiln's levels: ${cpu}`);
console.log(`cached prompt share in multi-turn: kiln ${(100 * k.cached_tokens / k.prompt_tokens).toFixed(0)}%, ` +
  `llama-server ${(100 * l.cached_tokens / Math.max(1, l.prompt_tokens)).toFixed(0)}%`);
process.exit(ok ? 0 : 1);
JS
