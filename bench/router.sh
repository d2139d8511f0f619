#!/usr/bin/env bash
# Many models on one server (issue 5): what a load costs the models already
# serving, and what a cold model costs its first request.
#
# One kiln serves a small chat model (kept loaded) and, on demand, the
# benchmark model (~250M parameters, Q8_0). It measures with `kiln bench`:
#   idle:        TTFT of the small model with nothing else happening
#   during load: the same while the big model is loaded and unloaded again
#                and again (kiln load / kiln unload in a loop)
#   cold start:  TTFT of a request to the big model when it is not loaded
#                (sizing, load, prefill)
# and prints the ratio during-load / idle (target: p50 under 2x).
#
# Env: BUILD_DIR, THREADS (nproc), KILN_BENCH_DIR, N (requests per level, 40).
set -euo pipefail

# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
n=${N:-40}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
require_bins kiln kiln-make-model
ensure_model

export KILN_HOME=$work/home
mkdir -p "$KILN_HOME/models/bench/small" "$KILN_HOME/models/bench/big"
"$bin/kiln-make-model" --arch llama --vocab qwen2 --n-embd 256 --n-layer 4 --n-head 4 --n-head-kv 2 --n-ff 768 \
  --ctx 4096 --type q8_0 --seed 2 -o "$KILN_HOME/models/bench/small/small-Q8_0.gguf" >/dev/null
ln "$model" "$KILN_HOME/models/bench/big/big-Q8_0.gguf" 2>/dev/null || cp "$model" "$KILN_HOME/models/bench/big/big-Q8_0.gguf"

port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
url="http://127.0.0.1:$port"
"$bin/kiln" serve --host 127.0.0.1 --port "$port" -m bench/small -t "$threads" --keep-alive -1 >"$work/serve.log" 2>&1 &
for _ in $(seq 300); do curl -sf "$url/health" >/dev/null 2>&1 && break; sleep 0.2; done
curl -sf "$url/health" >/dev/null || { cat "$work/serve.log" >&2; exit 1; }

level() {  # level NAME MODEL REQUESTS: one kiln bench level, JSON to $work/NAME.json
  "$bin/kiln" bench --url "$url" -m "$2" -c 1 -n "$3" -p 50 -g 8 --salt "$1-$(date +%s%N)" --json >"$work/$1.json"
}

level warmup bench/small 4
level idle bench/small "$n"

# Load and unload the big model for as long as the next level runs (curl:
# lighter than a kiln process per call, which would compete for the cores).
( while [ ! -f "$work/stop" ]; do
    curl -s "$url/api/v1/models/load" -d '{"model":"bench/big"}' >>"$work/loads.txt" || true
    echo >>"$work/loads.txt"
    curl -s "$url/api/v1/models/unload" -d '{"instance_id":"bench/big:Q8_0"}' >/dev/null || true
  done ) &
cycler=$!
until grep -q '"status":"loaded"' "$work/loads.txt" 2>/dev/null; do sleep 0.05; done  # the first load has run
level during bench/small "$n"
touch "$work/stop"
wait "$cycler" 2>/dev/null || true

"$bin/kiln" unload bench/big --url "$url" >/dev/null 2>&1 || true
level cold bench/big 1

node - "$work" <<'JS'
const fs = require('fs');
const dir = process.argv[2];
const get = (n) => JSON.parse(fs.readFileSync(`${dir}/${n}.json`, 'utf8'))[0];
const idle = get('idle'), during = get('during'), cold = get('cold');
const loads = fs.readFileSync(`${dir}/loads.txt`, 'utf8').split('\n')
  .map((l) => /"load_time_seconds":([\d.e-]+)/.exec(l)).filter(Boolean).map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
const f = (x) => x.toFixed(1).padStart(8);
console.log(`small model TTFT ms      p50 ${f(idle.ttft_ms.p50)}   p99 ${f(idle.ttft_ms.p99)}   (idle, ${idle.requests} requests)`);
console.log(`  while the big one loads p50 ${f(during.ttft_ms.p50)}   p99 ${f(during.ttft_ms.p99)}   (${during.requests} requests, ${loads.length} loads)`);
console.log(`  ratio                   p50 ${f(during.ttft_ms.p50 / idle.ttft_ms.p50)}   p99 ${f(during.ttft_ms.p99 / idle.ttft_ms.p99)}   target p50 < 2`);
if (loads.length) console.log(`big model (250M, Q8_0) load: median ${loads[loads.length >> 1].toFixed(0)} ms over ${loads.length}`);
console.log(`big model cold first token (size, load, prefill): ${cold.ttft_ms.p50.toFixed(0)} ms`);
process.exit(during.ttft_ms.p50 < 2 * idle.ttft_ms.p50 ? 0 : 1);
JS
