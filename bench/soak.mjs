// The load and the faults of bench/soak.sh, and its report. Node 18+, no
// packages: fetch for the clients, /proc for kiln's RSS, descriptors and
// children. Every loop ends at the deadline; traffic goes to --url only.
import fs from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' }, pid: { type: 'string' }, minutes: { type: 'string', default: '30' },
    clients: { type: 'string', default: '16' }, models: { type: 'string' }, runner: { type: 'string', default: '' },
    seed: { type: 'string', default: '1' },
  },
});
const url = opt.url;
const pid = Number(opt.pid);
const models = opt.models.split(',');
const clients = Number(opt.clients);

// A small seeded generator: the same seed, the same plan of faults.
let state = Number(opt.seed) >>> 0 || 1;
const rand = () => ((state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32);
const pick = (a) => a[Math.floor(rand() * a.length)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function proc() {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]) * 1024;
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  const children = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) children.push({ pid: Number(p), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) });
    } catch { /* gone */ }
  }
  return { rss, fds, children };
}

async function json(route, body) {
  const r = await fetch(url + route, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
  return { status: r.status, body: await r.json().catch(() => null) };
}

// One unlabelled sample of kiln's /metrics, by name.
async function metrics() {
  const text = await (await fetch(url + '/metrics')).text();
  return (name) => Number((new RegExp(`^${name} (\\d+)$`, 'm').exec(text) ?? [])[1]);
}

// The allocator's view (kiln_process_heap_*, glibc only): live allocations
// against memory freed and kept, to tell a leak from a cache.
async function heap() {
  const num = await metrics();
  return { inUse: num('kiln_process_heap_in_use_bytes'), free: num('kiln_process_heap_free_bytes') };
}

// Waits until the only HTTP connection kiln has open is the one asking (its
// clients' keep-alive sockets are closed by its idle timeout), so that the
// descriptors counted are the same kind at the baseline and at the end.
async function settle() {
  for (let i = 0; i < 300; i++) {
    if ((await metrics())('kiln_http_connections_open') <= 1) return;
    await sleep(100);
  }
  throw new Error('client connections did not close');
}

async function loaded() {
  const r = await json('/api/ps');
  return (r.body?.models ?? []).map((m) => m.name);
}

async function unloadAll() {
  for (let i = 0; i < 600; i++) {
    const names = await loaded();
    if (names.length === 0 && proc().children.length === 0) return;
    for (const n of names) await json('/api/v1/models/unload', { instance_id: n });
    await sleep(100);
  }
  throw new Error('models did not unload');
}

const outcomes = {};
const unexpected = [];
const ttfts = [];
let lastKill = 0;
const count = (k) => { outcomes[k] = (outcomes[k] ?? 0) + 1; };

async function oneRequest(model, deadline) {
  const disconnectAfter = rand() < 0.15 ? 1 + Math.floor(rand() * 6) : 0;
  const body = { model, stream: true, max_tokens: 8 + Math.floor(rand() * 56),
    messages: [{ role: 'user', content: `soak ${Math.floor(rand() * 1e6)}: tell me something` }] };
  for (let attempt = 0; ; attempt++) {
    const ac = new AbortController();
    const t0 = performance.now();
    const started = Date.now();
    let res;
    try {
      res = await fetch(url + '/v1/chat/completions', { method: 'POST', body: JSON.stringify(body), signal: ac.signal,
        headers: { 'content-type': 'application/json' } });
    } catch (e) {
      return fail(model, started, `fetch: ${e.cause?.code ?? e.message}`);
    }
    if (res.status === 503 && attempt < 20 && Date.now() < deadline + 60_000) {
      await res.text();
      count('503, retried after Retry-After');
      await sleep(1000 * Number(res.headers.get('retry-after') ?? 1));
      continue;
    }
    if (!res.ok) return fail(model, started, `HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
    let chunks = 0;
    let text = '';
    let first = null;
    let aborted = false;
    try {
      for await (const piece of res.body) {
        text += Buffer.from(piece).toString();
        if (first === null && text.includes('data: ')) {
          first = performance.now() - t0;
          ttfts.push(first);
        }
        chunks += 1;
        if (disconnectAfter && chunks >= disconnectAfter) {
          aborted = true;
          ac.abort();
          break;
        }
      }
    } catch (e) {
      if (!aborted) return fail(model, started, `stream: ${e.cause?.code ?? e.message}`);
    }
    if (aborted) {
      count('disconnected by the client');
      return;
    }
    if (/"error"/.test(text)) {
      const at = text.indexOf('"error"');
      return fail(model, started, `error event: ${text.slice(at, at + 300)}`);
    }
    if (!text.trimEnd().endsWith('data: [DONE]')) return fail(model, started, 'stream ended without [DONE]');
    count('completed');
    return;
  }
}

// A request that failed. On the runner's model, around a kill the soak made,
// that is the fault it injected; anything else is unexpected.
function fail(model, started, why) {
  if (model === opt.runner && lastKill && lastKill >= started - 10_000) {
    count('failed: runner killed by the soak');
    return;
  }
  count('failed: unexpected');
  if (unexpected.length < 20) unexpected.push(`${model}: ${why}`);
}

async function client(deadline) {
  while (Date.now() < deadline) await oneRequest(pick(models), deadline);
}

const chaos = { loads: 0, unloads: 0, kills: 0 };
async function faults(deadline) {
  while (Date.now() < deadline) {
    await sleep(2000 + rand() * 8000);
    const r = rand();
    if (r < 0.4) {
      chaos.loads += 1;
      await json('/api/v1/models/load', { model: pick(models) }).catch(() => {});
    } else if (r < 0.8) {
      const names = await loaded().catch(() => []);
      if (names.length) {
        chaos.unloads += 1;
        await json('/api/v1/models/unload', { instance_id: pick(names) }).catch(() => {});
      }
    } else {
      const runner = proc().children.find((c) => c.comm.startsWith('llama-server'));
      if (runner) {
        lastKill = Date.now();
        chaos.kills += 1;
        try { process.kill(runner.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }
  }
}

const pct = (a, p) => {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const mib = (b) => (b / 1048576).toFixed(1);

// Warm-up: every model answers, then the full load for a tenth of the run
// (at most 3 minutes), so that allocator arenas, glibc's cache of thread
// stacks and other caches exist before the baseline is taken.
for (const m of models) await oneRequest(m, Date.now());
const warm = Date.now() + Math.min(180_000, Number(opt.minutes) * 60_000 / 10);
await Promise.all(Array.from({ length: clients }, () => client(warm)));
for (const k of Object.keys(outcomes)) delete outcomes[k];
ttfts.length = 0;
unexpected.length = 0;
await unloadAll();
await settle();
const before = proc();
const heapBefore = await heap();
console.log(`soak: baseline with no model loaded: RSS ${mib(before.rss)} MiB (heap: ${mib(heapBefore.inUse)} MiB in use, ` +
  `${mib(heapBefore.free)} MiB free), ${before.fds} fds, ${before.children.length} children`);

const deadline = Date.now() + Number(opt.minutes) * 60_000;
const t0 = Date.now();
await Promise.all([...Array.from({ length: clients }, () => client(deadline)), faults(deadline)]);
const secs = (Date.now() - t0) / 1000;
await unloadAll();
await settle();
const after = proc();
const heapAfter = await heap();

const total = Object.values(outcomes).reduce((a, b) => a + b, 0);
console.log(`\nsoak: ${total} requests in ${secs.toFixed(0)} s by ${clients} clients over ${models.join(', ')}`);
for (const [k, v] of Object.entries(outcomes).sort()) console.log(`  ${k.padEnd(40)} ${v}`);
console.log(`  faults injected: ${chaos.loads} loads, ${chaos.unloads} unloads, ${chaos.kills} runner kills`);
console.log(`TTFT p50 ${pct(ttfts, 50).toFixed(0)} ms, p99 ${pct(ttfts, 99).toFixed(0)} ms (${ttfts.length} streams)`);
const drift = (after.rss - before.rss) / before.rss;
console.log(`RSS with no model loaded: ${mib(before.rss)} -> ${mib(after.rss)} MiB (${(drift * 100).toFixed(1)}%, target < 5%)`);
console.log(`heap with no model loaded: in use ${mib(heapBefore.inUse)} -> ${mib(heapAfter.inUse)} MiB, ` +
  `free but held ${mib(heapBefore.free)} -> ${mib(heapAfter.free)} MiB`);
console.log(`open fds: ${before.fds} -> ${after.fds}; children: ${before.children.length} -> ${after.children.length}`);
const unexpectedCount = outcomes['failed: unexpected'] ?? 0;
console.log(`unexpected errors: ${unexpectedCount} (target 0)`);
for (const u of unexpected) console.log(`  ${u}`);
const ok = unexpectedCount === 0 && drift < 0.05 && after.fds <= before.fds && after.children.length <= before.children.length;
console.log(ok ? 'soak: PASS' : 'soak: FAIL');
process.exit(ok ? 0 : 1);
