// Process lifecycle and transport: clean shutdown on signals, queued requests, SSE over curl.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { makeTinyModel, startServer, removeDir, postJSON, getURL, readSSE, parseSSE, REQUEST_TIMEOUT_MS, tempDir, slow }
  from './harness.mjs';

const CHAT = '/v1/chat/completions';
const hasCurl = spawnSync('curl', ['--version']).status === 0;

function assertCleanExit({ code, signal }, stderr) {
  assert.equal(code, 0, `exit code ${code} (signal ${signal})\n--- stderr ---\n${stderr}`);
  assert.doesNotMatch(stderr, /Segmentation|terminate called/);
}

describe('lifecycle', { timeout: slow(300_000) }, () => {
  let model;
  let chat;
  const servers = [];

  before(async () => {
    model = await makeTinyModel();
    chat = (extra) => ({ model: model.id, messages: [{ role: 'user', content: 'Hello' }], ...extra });
  }, { timeout: slow(120_000) });

  after(async () => {
    await Promise.allSettled(servers.map((s) => s.stop('SIGKILL')));
    await removeDir(model?.dir);
  });

  async function start() {
    const server = await startServer({ model: model.path });
    servers.push(server);
    return server;
  }

  describe('serving', () => {
    let server;

    before(async () => {
      server = await start();
    }, { timeout: slow(90_000) });

    it('on a CPU with the host cache on, auto flash attention is the matrix path, and /api/ps says so', async () => {
      const ps = await (await getURL(server.baseURL, '/api/ps')).json();
      assert.equal(ps.models.length, 1);
      assert.equal(ps.models[0].kiln.flash_attention, 'off');
    });

    it('streamed responses are text/event-stream and end with [DONE]', async () => {
      const res = await postJSON(server.baseURL, CHAT, chat({ stream: true, max_tokens: 4 }));
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
      const sse = await readSSE(res);
      assert.ok(sse.done, `[DONE] must be the final event:\n${sse.raw}`);
      assert.ok(sse.events.length >= 2, 'role chunk plus at least a finish chunk');
    });

    it('a request waits its turn while a stream is in flight', async () => {
      const streamed = await postJSON(server.baseURL, CHAT,
        chat({ stream: true, max_tokens: 128, seed: 1, temperature: 1 }));
      assert.equal(streamed.status, 200);
      // Headers are in: the stream is in flight. Keep draining it while the second request runs.
      const [sse, second] = await Promise.all([
        readSSE(streamed),
        postJSON(server.baseURL, CHAT, chat({ max_tokens: 4 })).then(async (r) => ({
          status: r.status, body: await r.json(),
        })),
      ]);
      assert.ok(sse.done, 'the stream completed');
      assert.ok(sse.events.some((e) => e.choices?.[0]?.finish_reason != null), 'stream finished');
      assert.equal(second.status, 200, JSON.stringify(second.body));
      assert.equal(second.body.object, 'chat.completion');
      assert.ok(['stop', 'length'].includes(second.body.choices[0].finish_reason));
    });

    it('curl -N receives data: lines ending with data: [DONE]', { skip: !hasCurl && 'curl not installed' },
      () => {
        const out = spawnSync('curl', [
          '-sS', '-N', '--max-time', String(REQUEST_TIMEOUT_MS / 1000),
          '-H', 'Content-Type: application/json',
          '-d', JSON.stringify(chat({ stream: true, max_tokens: 4 })),
          server.baseURL + CHAT,
        ], { encoding: 'utf8', timeout: REQUEST_TIMEOUT_MS + 5_000 });
        assert.equal(out.status, 0, `curl failed: ${out.stderr}`);
        assert.match(out.stdout, /^data: /m);
        assert.ok(out.stdout.endsWith('data: [DONE]\n\n'), `stdout tail: ${JSON.stringify(out.stdout.slice(-40))}`);
        const sse = parseSSE(out.stdout);
        assert.ok(sse.done);
        assert.equal(sse.events[0].object, 'chat.completion.chunk');
      });

    it('exits with code 0 on SIGTERM', async () => {
      const exit = await server.stop('SIGTERM');
      assertCleanExit(exit, server.stderr);
    });
  });

  it('exits with code 0 on SIGINT after serving a request', async () => {
    const server = await start();
    const res = await postJSON(server.baseURL, CHAT, chat({ max_tokens: 2 }));
    assert.equal(res.status, 200);
    await res.json();
    const exit = await server.stop('SIGINT');
    assertCleanExit(exit, server.stderr);
  });

  it('exits with code 0 on SIGTERM while streams run and more requests wait', async () => {
    const server = await startServer({ model: model.path, args: ['--slots', '2'] });
    servers.push(server);
    const body = chat({ stream: true, max_tokens: 100000, ignore_eos: true });
    const streams = await Promise.all([0, 1, 2, 3].map(() => postJSON(server.baseURL, CHAT, body)));
    for (const r of streams) assert.equal(r.status, 200);
    // Every client keeps reading; the server must end the streams and exit.
    const reads = streams.map((r) => readSSE(r).catch((e) => ({ error: e })));
    const exit = await server.stop('SIGTERM');
    assertCleanExit(exit, server.stderr);
    await Promise.all(reads);
  });

  // A runner (a process backend) that never becomes healthy, and one that
  // ignores SIGTERM: real child processes standing for a slow or stuck one.
  async function withRunner(script, extra) {
    const dir = await tempDir('kiln-runner-');
    const runner = path.join(dir, 'runner.mjs');
    await fs.writeFile(runner, script);
    const config = path.join(dir, 'config.toml');
    await fs.writeFile(config, `[models.runner]\nbackend = "process"\ncommand = ["${process.execPath}", "${runner}", "\${PORT}"]\n${extra}\n`);
    const server = await startServer({ model: model.path, args: ['--config', config] });
    servers.push(server);
    return { server, dir };
  }

  it('SIGTERM while a runner is still starting: the load is cancelled and kiln exits 0 at once', async () => {
    const { server, dir } = await withRunner('setInterval(() => {}, 1000);\n', 'ready_timeout = 300');
    const load = postJSON(server.baseURL, '/api/v1/models/load', { model: 'runner' }).catch((e) => e);
    await server.waitForStderr(/runner: started/, { from: 0 });
    const t0 = Date.now();
    assertCleanExit(await server.stop('SIGTERM'), server.stderr);
    assert.ok(Date.now() - t0 < slow(10_000), `exited after ${Date.now() - t0} ms, not after ready_timeout`);
    await load;
    await removeDir(dir);
  });

  // A loaded runner that ignores SIGTERM (stop_timeout 300 s).
  async function stubbornRunner() {
    const stubborn = `import http from 'node:http';
process.on('SIGTERM', () => {});
http.createServer((q, s) => s.end('{}')).listen(Number(process.argv[2]), '127.0.0.1');
`;
    const { server, dir } = await withRunner(stubborn, 'stop_timeout = 300');
    const load = await postJSON(server.baseURL, '/api/v1/models/load', { model: 'runner' });
    assert.equal(load.status, 200, await load.text());
    return { server, dir };
  }

  it('a second SIGTERM exits at once, and takes the runners with it', async () => {
    const { server, dir } = await stubbornRunner();
    const pid = Number((await server.waitForStderr(/runner: started \S+ \(pid (\d+)\)/, { from: 0 }))[1]);
    const exited = new Promise((resolve) => server.proc.once('close', (code, signal) => resolve({ code, signal })));
    server.proc.kill('SIGTERM');
    await server.waitForStderr(/shutting down \(again to exit at once\)/, { from: 0 });
    // The first waits for the runner, which ignores SIGTERM (stop_timeout 300 s).
    server.proc.kill('SIGTERM');
    const { code } = await exited;
    assert.equal(code, 128 + 15, server.stderr);
    assert.match(server.stderr, /SIGTERM again: exiting now/);
    // SIGKILLed with kiln's exit; gone once reaped (awaited, bounded).
    const gone = () => { try { process.kill(pid, 0); return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return true; } };
    for (const end = Date.now() + slow(10_000); !gone(); await new Promise((r) => setTimeout(r, 20))) {
      assert.ok(Date.now() < end, 'the runner went with it');
    }
    await removeDir(dir);
  });

  it('a second SIGTERM long after the first still exits at once (the runners are stopped while it listens)', async () => {
    const { server, dir } = await stubbornRunner();
    const exited = new Promise((resolve) => server.proc.once('close', (code) => resolve(code)));
    server.proc.kill('SIGTERM');
    await server.waitForStderr(/shutting down \(again to exit at once\)/, { from: 0 });
    // Long enough for the server to have stopped: only the runner (300 s) is left.
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = Date.now();
    server.proc.kill('SIGTERM');
    const code = await exited;
    assert.equal(code, 128 + 15, server.stderr);
    assert.ok(Date.now() - t0 < slow(10_000), `exited ${Date.now() - t0} ms after the second SIGTERM`);
    await removeDir(dir);
  });

  it('exits with code 0 on SIGTERM while idle right after start', async () => {
    const server = await start();
    assertCleanExit(await server.stop('SIGTERM'), server.stderr);
  });
});
