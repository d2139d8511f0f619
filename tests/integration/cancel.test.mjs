// A client that goes away stops its generation and frees its slot (watched
// through GET /slots), whether it was streaming or waiting for the whole answer.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serveModel, postJSON, getURL, slow } from './harness.mjs';

const CHAT = '/v1/chat/completions';
const N_CTX = 4096;
// Unbounded generation: runs to the end of the context unless cancelled.
const endless = (extra) => JSON.stringify({
  messages: [{ role: 'user', content: 'Hello' }], ignore_eos: true, ...extra,
});
const busy = (slots) => slots.slots.filter((s) => s.is_processing);

describe('cancellation', { timeout: slow(300_000) }, () => {
  const ctx = serveModel({
    name: 'long',
    modelArgs: ['--vocab', 'qwen2', '--n-embd', '64', '--n-layer', '2', '--n-head', '4', '--ctx', String(N_CTX)],
    args: ['--slots', '1'],
  });

  async function slots() {
    return (await getURL(ctx.server.baseURL, '/slots')).json();
  }

  async function waitUntilBusy() {
    const deadline = Date.now() + slow(30_000);
    while (busy(await slots()).length === 0) assert.ok(Date.now() < deadline, 'the request never started');
  }

  async function assertStoppedEarly() {
    const deadline = Date.now() + slow(30_000);
    let s = await slots();
    while (busy(s).length > 0) {
      assert.ok(Date.now() < deadline, `the slot stayed busy after the client left: ${JSON.stringify(s)}`);
      s = await slots();
    }
    // The slot keeps the request's KV as a cached prefix: it stopped far from the end.
    assert.equal(s.slots[0].state, 'cached');
    assert.ok(s.slots[0].n_tokens < N_CTX / 2, `generation ran on: ${s.slots[0].n_tokens} tokens`);
    const ok = await postJSON(ctx.server.baseURL, CHAT, { messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 });
    assert.equal(ok.status, 200, 'the slot is free for the next request');
  }

  it('a streaming client that disconnects stops its generation', async () => {
    const ac = new AbortController();
    const res = await fetch(`${ctx.server.baseURL}${CHAT}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: endless({ stream: true }),
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    let text = '';
    while (!text.includes('"content":"')) text += new TextDecoder().decode((await reader.read()).value);
    await waitUntilBusy();  // /slots lags the stream by up to one step
    ac.abort();
    await assertStoppedEarly();
  });

  it('a client waiting for a whole answer that disconnects stops its generation', async () => {
    const ac = new AbortController();
    const pending = fetch(`${ctx.server.baseURL}${CHAT}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: endless({}), signal: ac.signal,
    }).catch((err) => err);
    await waitUntilBusy();
    ac.abort();
    assert.equal((await pending).name, 'AbortError');
    await assertStoppedEarly();
  });
});
