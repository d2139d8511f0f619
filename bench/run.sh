#!/usr/bin/env bash
# kiln run's first token with a server already holding the model warm
# (issue 7's target: under 300 ms from launch). Starts kiln serve on a free
# port with the benchmark model in a temporary KILN_HOME (the model is
# imported into its catalog so kiln run can name it), warms it with one
# request, then launches `kiln run NAME "prompt" -n 1` REPS times and
# measures, from the spawn, the first byte on stdout. Prints each run, the
# median and the worst, and the same for a model loaded in-process
# (--local), for comparison.
#
# Env: BUILD_DIR, KILN_BENCH_DIR, REPS (15), THREADS.
set -euo pipefail

# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
require_bins kiln kiln-make-model
ensure_model
reps=${REPS:-15}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export KILN_HOME=$work/home
"$bin/kiln" import "$model" --name bench >/dev/null
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
"$bin/kiln" serve --host 127.0.0.1 --port "$port" -m bench -t "$threads" >"$work/serve.log" 2>&1 &
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/v1/chat/completions" -d '{"model":"bench","messages":[{"role":"user","content":"warm up"}],"max_tokens":1}' >/dev/null

KILN_PORT=$port REPS=$reps KILN=$bin/kiln node - <<'JS'
const { spawn } = require('child_process');
const reps = Number(process.env.REPS);
// Launch to the first byte of the answer on stdout.
const once = (extra) => new Promise((resolve, reject) => {
  const t0 = process.hrtime.bigint();
  const child = spawn(process.env.KILN, ['run', 'bench', 'Say hello', '-n', '1', ...extra], { env: process.env });
  let first = null;
  child.stdout.once('data', () => { first = Number(process.hrtime.bigint() - t0) / 1e6; });
  child.on('exit', (code) => (code === 0 && first !== null ? resolve(first) : reject(new Error(`kiln run exited ${code}`))));
});
const stats = (xs) => { const a = [...xs].sort((p, q) => p - q); return { p50: a[a.length >> 1], max: a.at(-1) }; };
(async () => {
  const served = [];
  for (let i = 0; i < reps; i++) served.push(await once([]));
  const local = [];
  for (let i = 0; i < Math.min(reps, 5); i++) local.push(await once(['--local']));
  const s = stats(served), l = stats(local);
  console.log(`through the warm server: ${served.map((x) => x.toFixed(0)).join(' ')} ms`);
  console.log(`  median ${s.p50.toFixed(0)} ms, worst ${s.max.toFixed(0)} ms (target: under 300 ms) ${s.p50 < 300 ? 'ok' : 'MISS'}`);
  console.log(`in-process (--local, loads the model each time): median ${l.p50.toFixed(0)} ms, worst ${l.max.toFixed(0)} ms`);
  process.exit(s.p50 < 300 ? 0 : 1);
})().catch((e) => { console.error(e.message); process.exit(2); });
JS
