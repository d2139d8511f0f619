#!/usr/bin/env bash
# Soak under faults (issue 15): one kiln, three generated models and a
# process backend (llama-server from this build) in a memory budget that
# holds two of them, driven for SOAK_MINUTES by 16 streaming clients that
# disconnect at random, while models are loaded and unloaded at random and
# the llama-server child is killed at random. Prints requests by outcome,
# unexpected errors (target 0), RSS with no model loaded at start and at the
# end (drift target < 5%), open file descriptors and child processes before
# and after (back to baseline), TTFT p50/p99, and kiln's exit code on SIGTERM.
#
# Traffic goes to 127.0.0.1 only; every loop is bounded by the deadline.
# Env: BUILD_DIR, SOAK_MINUTES (30), SOAK_CLIENTS (16), SOAK_SEED.
set -euo pipefail

# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
minutes=${SOAK_MINUTES:-30}
clients=${SOAK_CLIENTS:-16}
work=$(mktemp -d)
kiln_pid=
cleanup() {
  [ -n "$kiln_pid" ] && kill -9 "$kiln_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
require_bins kiln kiln-make-model llama-server

export KILN_HOME=$work/home
for i in 1 2 3; do
  mkdir -p "$KILN_HOME/models/soak/m$i"
  "$bin/kiln-make-model" --arch llama --vocab qwen2 --n-embd 256 --n-layer 4 --n-head 4 --n-head-kv 2 --n-ff 768 \
    --ctx 4096 --type q8_0 --seed "$i" -o "$KILN_HOME/models/soak/m$i/m$i-Q8_0.gguf" >/dev/null
done
cat >"$work/config.toml" <<EOF
[models.proc]
backend = "process"
model = "soak/m1:Q8_0"
command = "$bin/llama-server --host \${HOST} --port \${PORT} -m \${MODEL_PATH} -c 4096 -np 4 -t $threads"
EOF

free_port() { node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'; }
start_kiln() {  # start_kiln EXTRA-ARGS...: serves on $url, pid in $kiln_pid
  port=$(free_port)
  url="http://127.0.0.1:$port"
  "$bin/kiln" serve --host 127.0.0.1 --port "$port" --config "$work/config.toml" -t "$threads" --keep-alive 30s \
    --ctx-size 4096 --cache-ram 64 "$@" >"$work/serve.log" 2>&1 &
  kiln_pid=$!
  for _ in $(seq 300); do curl -sf "$url/health" >/dev/null 2>&1 && return 0; sleep 0.2; done
  cat "$work/serve.log" >&2
  exit 1
}

# What one model takes when loaded, to size a budget for two. (--cache-ram is
# fixed: by default it is a share of the budget, and the footprint with it.)
start_kiln
curl -sf "$url/api/v1/models/load" -d '{"model":"soak/m1:Q8_0"}' >/dev/null
one=$(curl -sf "$url/api/ps" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).models[0].size))')
kill "$kiln_pid"; wait "$kiln_pid" || true
budget_mib=$(( one * 5 / 2 / 1048576 ))
echo "soak: one model takes $((one / 1048576)) MiB; memory budget $budget_mib MiB (two fit, not three)"

start_kiln --memory-budget "$budget_mib"
echo "soak: kiln pid $kiln_pid at $url; $clients clients for $minutes min"
status=0
node "$here/bench/soak.mjs" --url "$url" --pid "$kiln_pid" --minutes "$minutes" --clients "$clients" \
  --models soak/m1:Q8_0,soak/m2:Q8_0,soak/m3:Q8_0,proc --runner proc --seed "${SOAK_SEED:-1}" || status=$?

kill -TERM "$kiln_pid"
code=0
wait "$kiln_pid" || code=$?
kiln_pid=
echo "soak: kiln exited with code $code on SIGTERM"
[ "$status" -eq 0 ] && [ "$code" -eq 0 ]
