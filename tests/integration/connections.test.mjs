// Slow, idle and greedy clients against the real binary: sockets that send
// nothing, headers dribbled a byte at a time, bodies that never complete,
// more connections than the caps, and a stream whose reader stops reading.
// None of them may hold up a normal request, and each is closed by its own
// deadline. Clients bind to other loopback addresses (127.0.0.2, ...) so
// that the per-address cap applies to them and not to the test's own client.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import OpenAI from 'openai';
import { startServer, removeDir, openaiOptions, getURL, tinyModelArgs, makeNamedModel, slow } from './harness.mjs';

const HEADER_S = 8;
const BODY_S = 8;
const IDLE_S = 6;
const SLACK_MS = 3000;  // a deadline is looked at every 50 ms; the rest is a busy 2-core machine

/** Opens a socket from `localAddress`; resolves once connected with { socket, opened, closed }. */
function open(port, localAddress) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    const c = { socket, opened: 0, closedAt: null, data: '' };
    c.closed = new Promise((done) => socket.once('close', () => { c.closedAt = Date.now(); done(); }));
    socket.on('data', (d) => { c.data += d.toString('latin1'); });
    socket.on('error', () => {});
    socket.once('connect', () => { c.opened = Date.now(); resolve(c); });
    socket.once('error', reject);
  });
}

async function metric(baseURL, name) {
  const text = await (await getURL(baseURL, '/metrics')).text();
  const m = new RegExp(`^kiln_${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(text);
  assert.ok(m, `kiln_${name} in /metrics`);
  return Number(m[1]);
}

/** Polls `fn` until it returns a truthy value (an awaited condition, not a sleep). */
async function until(fn, what, timeoutMs = slow(30_000)) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('slow and idle clients', { timeout: slow(300_000) }, () => {
  let model;
  let server;
  let port;
  let client;

  before(async () => {
    // A context long enough for a stream that outgrows the kernel's socket buffers.
    model = await makeNamedModel('tiny', ['--arch', 'llama', '--vocab', 'qwen2', '--n-embd', '64', '--n-layer', '2',
      '--n-head', '4', '--n-head-kv', '2', '--n-ff', '128', '--ctx', '8192', '--seed', '1', '--type', 'f16', '-o', 'tiny.gguf']);
    server = await startServer({ model: model.path, args: [
      '--header-timeout', String(HEADER_S), '--body-timeout', String(BODY_S), '--idle-timeout', String(IDLE_S),
      '--max-client-connections', '300', '--max-connections', '700', '--send-timeout', '2'] });
    port = Number(new URL(server.baseURL).port);
    client = new OpenAI(openaiOptions(server.baseURL));
  }, { timeout: slow(180_000) });

  after(async () => {
    await server?.stop();
    await removeDir(model?.dir);
  });

  const ask = async () => {
    const t0 = Date.now();
    const r = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
    assert.equal(r.choices.length, 1);
    return Date.now() - t0;
  };

  it('500 idle, dribbling and bodiless connections hold up no request, and each closes by its deadline', async (t) => {
    await ask();  // the model is loaded
    const baseline = await ask();
    const timedOutBefore = await metric(server.baseURL, 'http_connections_timed_out_total');
    const kinds = ['idle', 'headers', 'body'];
    const conns = [];
    const opened = [];
    for (let i = 0; i < 500; i += 50) {
      opened.push(...await Promise.all(Array.from({ length: 50 }, (_, j) => open(port, (i + j) % 2 ? '127.0.0.2' : '127.0.0.3'))));
    }
    for (const [i, c] of opened.entries()) {
      c.kind = kinds[i % 3];
      if (c.kind === 'headers') c.socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      if (c.kind === 'body') {
        c.socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
          'Content-Length: 1000\r\n\r\n{"model":');
      }
      conns.push(c);
    }
    // The dribblers send a byte now and then: each byte alone would reset a per-read timeout.
    const drip = setInterval(() => {
      for (const c of conns) if (c.kind === 'headers' && c.closedAt === null) c.socket.write('X');
    }, 500);
    try {
      await until(async () => (await metric(server.baseURL, 'http_connections_open')) >= 500, '500 open connections');
      const during = await ask();
      const stillOpen = conns.filter((c) => c.closedAt === null).length;
      t.diagnostic(`a request took ${baseline} ms alone and ${during} ms beside ${stillOpen} held connections`);
      assert.equal(stillOpen, 500, 'the request was answered while all 500 were still held');
      assert.ok(during - baseline < 1000, `extra latency ${during - baseline} ms`);
      await Promise.all(conns.map((c) => c.closed));
    } finally {
      clearInterval(drip);
    }
    const limits = { idle: IDLE_S, headers: HEADER_S, body: BODY_S };
    let worst = 0;
    for (const c of conns) {
      const held = c.closedAt - c.opened;
      worst = Math.max(worst, held - limits[c.kind] * 1000);
      assert.ok(held <= limits[c.kind] * 1000 + SLACK_MS, `${c.kind} connection held ${held} ms`);
      if (c.kind !== 'idle') assert.ok(held >= limits[c.kind] * 1000 - 500, `${c.kind} connection closed early: ${held} ms`);
    }
    t.diagnostic(`each closed at most ${worst} ms past its deadline`);
    const timedOut = await metric(server.baseURL, 'http_connections_timed_out_total');
    assert.ok(timedOut - timedOutBefore >= 333, `header and body deadlines counted (${timedOut - timedOutBefore})`);
    await until(async () => (await metric(server.baseURL, 'http_connections_open')) <= 1, 'the connections to be gone');
  });

  it('past the cap of one address its new connections get 503 at once; other addresses are served', async () => {
    const held = [];
    for (let i = 0; i < 300; i++) held.push(await open(port, '127.0.0.4'));
    await until(async () => (await metric(server.baseURL, 'http_connections_open')) >= 300, '300 open');
    const refusedBefore = await metric(server.baseURL, 'http_connections_refused_total');
    const extra = await open(port, '127.0.0.4');
    extra.socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await extra.closed;
    assert.match(extra.data, /^HTTP\/1\.1 503 /);
    assert.match(extra.data, /Retry-After: 1/i);
    assert.match(extra.data, /too many open connections/);
    assert.equal(await metric(server.baseURL, 'http_connections_refused_total'), refusedBefore + 1);
    await ask();  // 127.0.0.1 is another address
    for (const c of held) c.socket.destroy();
    await until(async () => (await metric(server.baseURL, 'http_connections_open')) <= 1, 'the held connections to go');
  });

  it('a stream whose client stops reading is cancelled by the send deadline and its slot freed', async () => {
    const c = await open(port, '127.0.0.5');
    // About 2 KB a token (20 alternatives each), 4 choices of 1,500 tokens: far more than the kernel buffers.
    const body = JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'go' }], stream: true, n: 4,
      max_tokens: 1500, ignore_eos: true, logprobs: true, top_logprobs: 20 });
    c.socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    await until(() => c.data.includes('data: '), 'the stream to start');
    c.socket.pause();  // reads nothing more: the kernel's buffers fill, then the server's sends wait
    const cancelled = await metric(server.baseURL, 'requests_cancelled_total');
    await until(async () => (await metric(server.baseURL, 'requests_cancelled_total')) > cancelled,
      'the stream to be cancelled', slow(60_000));
    assert.equal(c.closedAt, null, 'cancelled while the client still holds its socket');
    await until(async () => {
      const { slots } = await (await getURL(server.baseURL, '/slots')).json();
      assert.ok(slots.length > 0);
      return slots.every((s) => !s.is_processing);
    }, 'the slots to be free');
    c.socket.destroy();
    await ask();
  });
});

describe('the listening port', { timeout: slow(120_000) }, () => {
  it('a second server on a port in use exits non-zero naming the port', async () => {
    const model = await makeNamedModel('tiny', tinyModelArgs('tiny.gguf'));
    const first = await startServer({ model: model.path });
    try {
      const port = new URL(first.baseURL).port;
      const { spawn } = await import('node:child_process');
      const second = spawn(process.env.KILN_BIN, ['serve', '--host', '127.0.0.1', '--port', port, '--model', model.path],
        { env: { ...process.env, KILN_HOME: first.home }, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      second.stderr.on('data', (d) => { err += d; });
      const code = await new Promise((resolve) => second.once('close', resolve));
      assert.notEqual(code, 0);
      assert.match(err, new RegExp(`127\\.0\\.0\\.1:${port}: the port is in use`));
      assert.match(err, /--port/);
      assert.equal((await getURL(first.baseURL, '/health')).status, 200, 'the first one still serves');
    } finally {
      await first.stop();
      await removeDir(model.dir);
    }
  });
});
