// A client that goes away stops its generation (the slot is freed at the next
// token), whether it was streaming or waiting for the whole answer.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeModel, startServer, tempDir, removeDir, postJSON } from './harness.mjs';

const CHAT = '/v1/chat/completions';
const N_CTX = 4096;
// Unbounded generation: runs to the end of the context unless cancelled.
const endless = (extra) => JSON.stringify({
  messages: [{ role: 'user', content: 'Hello' }], ignore_eos: true, ...extra,
});
const DONE = /request done: (\d+) prompt \(\d+ cached\), (\d+) generated/;

describe('cancellation', { timeout: 300_000 }, () => {
  let dir;
  let server;

  before(async () => {
    dir = await tempDir();
    const model = await makeModel(dir, ['--vocab', 'qwen2', '--n-embd', '64', '--n-layer', '2', '--n-head', '4',
      '--ctx', String(N_CTX), '--seed', '1', '-o', 'long.gguf']);
    server = await startServer({ model, args: ['--log-level', 'debug'] });
  }, { timeout: 180_000 });

  after(async () => {
    await server?.stop();
    await removeDir(dir);
  });

  async function assertStoppedEarly(from) {
    const m = await server.waitForStderr(DONE, { from });
    const generated = Number(m[2]);
    assert.ok(generated < N_CTX - Number(m[1]) - 100,
      `generation ran on after the client left: ${generated} tokens`);
    const ok = await postJSON(server.baseURL, CHAT, { messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 });
    assert.equal(ok.status, 200, 'the slot is free for the next request');
  }

  it('a streaming client that disconnects stops its generation', async () => {
    const from = server.stderr.length;
    const ac = new AbortController();
    const res = await fetch(`${server.baseURL}${CHAT}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: endless({ stream: true }),
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    let text = '';
    while (!text.includes('"content":"')) text += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    await assertStoppedEarly(from);
  });

  it('a client waiting for a whole answer that disconnects stops its generation', async () => {
    const from = server.stderr.length;
    const ac = new AbortController();
    const pending = fetch(`${server.baseURL}${CHAT}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: endless({}), signal: ac.signal,
    }).catch((err) => err);
    // The request is under way once the server has it; leave 200 ms later.
    setTimeout(() => ac.abort(), 200);
    assert.equal((await pending).name, 'AbortError');
    await assertStoppedEarly(from);
  });
});
