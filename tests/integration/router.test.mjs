// Many models on one server: load on demand within a memory budget, LRU
// eviction of idle models only, keep-alive, presets, /api/ps (with the
// official ollama client), LM Studio's load/unload, and kiln ps/load/unload.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import {
  makeModel, startServer, tempDir, removeDir, postJSON, getURL, readSSE, openaiOptions, REQUEST_TIMEOUT_MS, slow, SANITIZER
} from './harness.mjs';

const MiB = 1 << 20;
const CHAT = '/v1/chat/completions';

// Three models of one shape (llama-spm vocab, 256 wide, 4 layers, f16), in
// KILN_HOME/models/test/<x>/ so the catalog names them test/<x>:F16.
function modelArgs(seed, extra = []) {
  return ['--arch', 'llama', '--vocab', 'llama-spm', '--n-embd', '256', '--n-layer', '4', '--n-head', '4',
    '--n-head-kv', '2', '--n-ff', '512', '--ctx', '1024', '--type', 'f16', '--seed', String(seed), ...extra];
}

async function makeHome(names) {
  const home = await tempDir('kiln-home-');
  for (const [i, name] of names.entries()) {
    const dir = path.join(home, 'models', 'test', name);
    await fs.mkdir(dir, { recursive: true });
    await makeModel(dir, [...modelArgs(i + 1), '-o', `${name}-F16.gguf`]);
  }
  return home;
}

async function rssBytes(pid) {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

async function ps(server) {
  const res = await getURL(server.baseURL, '/api/ps');
  assert.equal(res.status, 200);
  return (await res.json()).models;
}

function chat(model, extra = {}) {
  return { model, messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 8, ...extra };
}

async function ask(server, model, extra) {
  const res = await postJSON(server.baseURL, CHAT, chat(model, extra));
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

/** Polls /api/ps until `pred(models)` holds (bounded), returning the models. */
async function awaitPs(server, pred, what, timeoutMs = slow(20_000)) {
  const deadline = Date.now() + timeoutMs;
  let models;
  while (Date.now() < deadline) {
    models = await ps(server);
    if (pred(models)) return models;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`/api/ps never showed ${what}; last: ${JSON.stringify(models?.map((m) => m.name))}`);
}

/** Streams a chat and returns { ttftMs, events, finish, text }. */
async function stream(server, model, extra = {}) {
  const t0 = performance.now();
  const res = await postJSON(server.baseURL, CHAT, chat(model, { stream: true, ...extra }));
  assert.equal(res.status, 200);
  const decoder = new TextDecoder();
  let raw = '';
  let ttftMs;
  for await (const chunk of res.body) {
    raw += decoder.decode(chunk, { stream: true });
    if (ttftMs === undefined && /"content":"[^"]/.test(raw)) ttftMs = performance.now() - t0;
  }
  const events = raw.split('\n\n').filter((b) => b.startsWith('data: ') && !b.includes('[DONE]'))
    .map((b) => JSON.parse(b.slice(6)));
  const finish = events.map((e) => e.choices?.[0]?.finish_reason).find(Boolean);
  return { ttftMs, events, finish, done: raw.includes('data: [DONE]') };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function runKiln(args, env) {
  return new Promise((resolve) => {
    execFile(process.env.KILN_BIN, args, { env: { ...process.env, ...env }, timeout: REQUEST_TIMEOUT_MS },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
}

describe('router: three models, a budget that fits two', { timeout: slow(300_000) }, () => {
  let server;
  let budget;
  let modelSize;
  let baseline;

  before(async () => {
    // One probe server tells the size of one model as the router plans it.
    const probeHome = await makeHome(['a']);
    const probe = await startServer({ home: probeHome, args: ['--cache-ram', '0'] });
    await ask(probe, 'test/a');
    modelSize = (await ps(probe))[0].size;
    await probe.stop();

    budget = Math.floor((modelSize * 2.5) / MiB);
    const home = await makeHome(['a', 'b', 'c']);
    server = await startServer({ home, args: ['--cache-ram', '0', '--memory-budget', String(budget), '--keep-alive', '-1'] });
    baseline = await rssBytes(server.proc.pid);
  }, { timeout: slow(180_000) });

  after(async () => {
    await server?.stop();
  });

  it('alternating requests to all three succeed and memory stays under the budget', async () => {
    for (let round = 0; round < 3; round++) {
      for (const m of ['a', 'b', 'c']) {
        const body = await ask(server, `test/${m}`, { ignore_eos: true }); // sampled, unseeded: no early EOS
        assert.equal(body.model, `test/${m}:F16`);
        assert.equal(body.usage.completion_tokens, 8);
        const models = await ps(server);
        assert.ok(models.length <= 2, `at most two loaded, got ${models.map((x) => x.name)}`);
        const reserved = models.reduce((s, x) => s + x.size, 0);
        assert.ok(reserved <= budget * MiB, `reserved ${reserved} > budget ${budget * MiB}`);
        // TSan's shadow memory (several bytes for each byte kiln touches) is
        // resident too: under it the budget is checked by the reservations only.
        const rss = SANITIZER === 'thread' ? baseline : await rssBytes(server.proc.pid);
        assert.ok(rss <= baseline + budget * MiB,
          `RSS ${(rss / MiB).toFixed(1)} MiB > start ${(baseline / MiB).toFixed(1)} MiB + budget ${budget} MiB`);
      }
    }
    assert.match(server.stderr, /unloading test\/\w:F16 to make room for test\/\w:F16/);
  });

  it('streams from A complete while B loads and C unloads', async () => {
    await ask(server, 'test/c');
    await ask(server, 'test/a'); // loaded: a and c; b is not (LRU order c < a)
    assert.deepEqual((await ps(server)).map((m) => m.name).sort(), ['test/a:F16', 'test/c:F16']);
    const from = server.stderr.length;
    const streams = [0, 1, 2].map(() => stream(server, 'test/a', { max_tokens: 96, ignore_eos: true }));
    await awaitPs(server, (ms) => ms.some((m) => m.name === 'test/a:F16' && m.kiln.slots_busy >= 1 &&
      m.kiln.active_requests >= 1), 'test/a busy');
    // B needs c's room (a is busy): c unloads, b loads, while a's streams run.
    const b = ask(server, 'test/b', { max_tokens: 16, ignore_eos: true });
    const [bBody, ...results] = await Promise.all([b, ...streams]);
    assert.equal(bBody.usage.completion_tokens, 16);
    for (const r of results) {
      assert.ok(r.done, 'stream ended with [DONE]');
      assert.equal(r.finish, 'length');
      const usage = r.events.at(-1).usage;
      const deltas = r.events.filter((e) => e.choices?.[0]?.delta?.content).length;
      assert.ok(deltas >= 1 && deltas <= 96, `deltas ${deltas}`);
      if (usage) assert.equal(usage.completion_tokens, 96);
    }
    const log = server.stderr.slice(from);
    assert.match(log, /unloading test\/c:F16 to make room for test\/b:F16/);
    assert.doesNotMatch(log, /unloading test\/a:F16/);
    assert.deepEqual((await ps(server)).map((m) => m.name).sort(), ['test/a:F16', 'test/b:F16']);
  });

  it('a model that cannot fit even alone is refused with numbers, before loading', async () => {
    const home = await makeHome(['a']);
    const small = await startServer({ home, args: ['--cache-ram', '0', '--memory-budget', '10'] });
    try {
      const res = await postJSON(small.baseURL, CHAT, chat('test/a'));
      const body = await res.json();
      assert.equal(res.status, 400);
      assert.match(body.error.message, /needs [\d.]+ MB \(weights [\d.]+ MB, KV cache .* for \d+ tokens, compute .*\) but the memory budget is 10.5 MB/);
      assert.doesNotMatch(small.stderr, /loading test/);
      assert.deepEqual(await ps(small), []);
    } finally {
      await small.stop();
    }
  });
});

describe('router: a loaded model while another loads', { timeout: slow(300_000) }, () => {
  let server;

  before(async () => {
    const home = await makeHome(['a']);
    // A bigger model with Qwen2's 151k-token vocabulary and a 32k context: its
    // sizing and load (vocabulary, KV cache) take a noticeable time.
    const dir = path.join(home, 'models', 'test', 'slow');
    await fs.mkdir(dir, { recursive: true });
    await makeModel(dir, ['--arch', 'llama', '--vocab', 'qwen2', '--n-embd', '512', '--n-layer', '8', '--n-head', '8',
      '--n-head-kv', '4', '--n-ff', '1024', '--ctx', '32768', '--type', 'f16', '--seed', '3', '-o', 'slow-F16.gguf']);
    server = await startServer({ home, args: ['--cache-ram', '0', '--keep-alive', '-1'] });
  }, { timeout: slow(180_000) });

  after(async () => {
    await server?.stop();
  });

  it('time to first token of a loaded model stays under twice its idle value', async (t) => {
    await ask(server, 'test/a');
    const idle = [];
    for (let i = 0; i < 7; i++) idle.push((await stream(server, 'test/a', { max_tokens: 2 })).ttftMs);
    const idleTtft = median(idle);
    const during = [];
    let loadDone = false;
    const t0 = performance.now();
    const load = postJSON(server.baseURL, '/api/v1/models/load', { model: 'test/slow' }).then(async (r) => {
      loadDone = true;
      return { status: r.status, body: await r.json() };
    });
    while (!loadDone) {
      const r = await stream(server, 'test/a', { max_tokens: 2 });
      if (!loadDone) during.push(r.ttftMs);
    }
    const loaded = await load;
    const wall = performance.now() - t0;
    assert.equal(loaded.status, 200, JSON.stringify(loaded.body));
    assert.equal(loaded.body.status, 'loaded');
    t.diagnostic(`idle TTFT ${idleTtft.toFixed(1)} ms; ${during.length} requests during a ${wall.toFixed(0)} ms load ` +
      `(median ${during.length ? median(during).toFixed(1) : '-'} ms, max ${during.length ? Math.max(...during).toFixed(1) : '-'} ms)`);
    assert.ok(during.length >= 3, `only ${during.length} requests fit in the ${wall.toFixed(0)} ms load`);
    assert.ok(median(during) < 2 * idleTtft,
      `TTFT during the load ${median(during).toFixed(1)} ms vs ${idleTtft.toFixed(1)} ms idle`);
    assert.deepEqual((await ps(server)).map((m) => m.name).sort(), ['test/a:F16', 'test/slow:F16']);
  });
});

describe('router: names, keep-alive, load and unload', { timeout: slow(300_000) }, () => {
  let server;
  let home;
  let config;

  before(async () => {
    home = await makeHome(['a', 'b']);
    config = path.join(home, 'config.toml');
    await fs.writeFile(config, [
      '[models.fast]', 'model = "test/a"', 'aliases = ["quick"]', 'ctx_size = 512', 'keep_alive = "-1"',
      'temperature = 0', 'flash_attn = "on"', '',
    ].join('\n'));
    server = await startServer({ home, args: ['--cache-ram', '0'], env: { KILN_CONFIG: config } });
  }, { timeout: slow(180_000) });

  after(async () => {
    await server?.stop();
  });

  it('an unknown model is a 404 naming close ones; no model with several loaded is a 400', async () => {
    const res = await postJSON(server.baseURL, CHAT, chat('test/a:F61'));
    assert.equal(res.status, 404);
    const body = await res.json();
    assert.equal(body.error.code, 'model_not_found');
    assert.match(body.error.message, /did you mean test\/a:F16/);
    await ask(server, 'test/a');
    await ask(server, 'test/b');
    const none = await postJSON(server.baseURL, CHAT, { messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(none.status, 400);
    assert.equal((await none.json()).error.param, 'model');
  });

  it('keep_alive 0 unloads after the request; a duration expires; the ollama client reads /api/ps', async () => {
    await ask(server, 'test/b', { keep_alive: 0 });
    await awaitPs(server, (ms) => !ms.some((m) => m.name === 'test/b:F16'), 'test/b unloaded');
    await ask(server, 'test/a', { keep_alive: '1s' });
    const ollama = new Ollama({ host: server.baseURL });
    const listed = await ollama.ps();
    const a = listed.models.find((m) => m.name === 'test/a:F16');
    assert.ok(a, JSON.stringify(listed));
    assert.equal(a.context_length, 1024);
    const expires = new Date(a.expires_at);
    assert.ok(!Number.isNaN(expires.getTime()), `expires_at ${a.expires_at} is a date`);
    const left = expires.getTime() - Date.now();
    assert.ok(left > -500 && left <= 1500, `expires in ${left} ms`);
    assert.equal(a.details.family, 'llama');
    assert.equal(a.details.quantization_level, 'F16');
    await awaitPs(server, (ms) => !ms.some((m) => m.name === 'test/a:F16'), 'test/a expired', slow(10_000));
    const ttl = await ask(server, 'test/a', { ttl: 600 });
    assert.equal(ttl.model, 'test/a:F16');
    const kept = (await ps(server)).find((m) => m.name === 'test/a:F16');
    assert.equal(kept.kiln.keep_alive, '10m0s');
  });

  it('a preset gives a model its own name, alias, context and default sampling', async () => {
    const body = await ask(server, 'quick');
    assert.equal(body.model, 'fast');
    // temperature = 0 in the preset: greedy, the same text as asking the same file for greedy outright.
    const greedy = await ask(server, 'test/a', { temperature: 0 });
    assert.equal(body.choices[0].message.content, greedy.choices[0].message.content);
    const again = await ask(server, 'fast');
    assert.equal(again.choices[0].message.content, greedy.choices[0].message.content);
    const fast = (await ps(server)).find((m) => m.name === 'fast');
    assert.equal(fast.context_length, 512);
    assert.equal(fast.kiln.keep_alive, 'forever');
    assert.equal(fast.kiln.flash_attention, 'on', 'the preset chose it');
    // This server keeps cached prefixes in the pool (--cache-ram 0): auto stays llama.cpp's choice.
    assert.equal((await ps(server)).find((m) => m.name === 'test/a:F16').kiln.flash_attention, 'auto');
    const client = new OpenAI(openaiOptions(server.baseURL));
    const ids = (await client.models.list()).data.map((m) => m.id);
    for (const id of ['fast', 'test/a:F16', 'test/b:F16']) assert.ok(ids.includes(id), `${id} in ${ids}`);
    const one = await client.models.retrieve('fast');
    assert.equal(one.id, 'fast');
  });

  it("LM Studio's load takes a context length, and loads again for another", async () => {
    const load = async (body) => {
      const res = await postJSON(server.baseURL, '/api/v1/models/load', body);
      const json = await res.json();
      assert.equal(res.status, 200, JSON.stringify(json));
      return json;
    };
    const small = await load({ model: 'test/b', context_length: 256, ttl: 60 });
    assert.equal(small.status, 'loaded');
    assert.equal(small.instance_id, 'test/b:F16');
    assert.equal(small.context_length, 256);
    assert.equal((await ps(server)).find((m) => m.name === 'test/b:F16').context_length, 256);
    const viaChat = await ask(server, 'test/b', { num_ctx: 512 });
    assert.equal(viaChat.model, 'test/b:F16');
    assert.equal((await ps(server)).find((m) => m.name === 'test/b:F16').context_length, 512, 'num_ctx in a chat request');
    const big = await load({ model: 'test/b', context_length: 100000 });
    assert.equal(big.context_length, 1024, 'at most the trained context');
    const bad = await postJSON(server.baseURL, '/api/v1/models/load', { model: 'test/b', context_length: 'long' });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.param, 'context_length');
  });

  it('kiln ps, load and unload drive the running server', async () => {
    const port = new URL(server.baseURL).port;
    const env = { KILN_PORT: port, KILN_HOST: '127.0.0.1', KILN_HOME: home };
    const loaded = await runKiln(['load', 'test/b', '--keep-alive', '-1'], env);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.match(loaded.stdout, /loaded test\/b:F16 \(context 1024 tokens\)/);
    const table = await runKiln(['ps'], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+SIZE\s+CONTEXT\s+SLOTS\s+REQUESTS\s+UNTIL/);
    assert.match(table.stdout, /test\/b:F16\s+[\d.]+ MB\s+1024\s+0\/4\s+0\s+forever/);
    const json = JSON.parse((await runKiln(['ps', '--json'], env)).stdout);
    assert.ok(json.some((m) => m.name === 'test/b:F16'));
    const gone = await runKiln(['unload', 'test/b'], env);
    assert.equal(gone.code, 0, gone.stderr);
    assert.ok(!(await ps(server)).some((m) => m.name === 'test/b:F16'));
    const again = await runKiln(['unload', 'test/b'], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not loaded/);
    const nobody = await runKiln(['ps', '--url', 'http://127.0.0.1:1'], env);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /no kiln server at http:\/\/127\.0\.0\.1:1/);
  });
});
