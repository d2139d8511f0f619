// GET /slots and GET /metrics, and admission control: a full queue answers
// 503 with Retry-After instead of piling up work.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serveModel, postJSON, getURL, slow } from './harness.mjs';

const CHAT = '/v1/chat/completions';

describe('observability and admission', { timeout: slow(300_000) }, () => {
  // A KV pool of 4096 lets the unbounded request below run for seconds.
  const ctx = serveModel({ args: ['--slots', '1', '--max-queue', '1', '--ctx-size', '4096'] });
  const slots = async () => (await getURL(ctx.server.baseURL, '/slots')).json();

  async function waitFor(predicate, what) {
    const deadline = Date.now() + slow(30_000);
    for (;;) {
      const s = await slots();
      if (predicate(s)) return s;
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}: ${JSON.stringify(s)}`);
    }
  }

  it('GET /slots describes each slot and the KV pool', async () => {
    const s = await slots();
    assert.equal(s.model, ctx.model.id);
    assert.equal(s.slots.length, 1);
    assert.deepEqual(Object.keys(s.slots[0]).sort(),
      ['id', 'is_processing', 'n_decoded', 'n_prompt_tokens', 'n_tokens', 'state'].sort());
    assert.equal(s.kv_size, 4096);
    assert.equal(s.queued, 0);
  });

  it('a full queue answers 503 with Retry-After, and the queued request still completes', async () => {
    const long = { model: ctx.model.id, messages: [{ role: 'user', content: 'Hello' }], ignore_eos: true, stream: true };
    const ac = new AbortController();
    const running = await fetch(`${ctx.server.baseURL}${CHAT}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(long), signal: ac.signal,
    });
    assert.equal(running.status, 200);
    await waitFor((s) => s.slots[0].is_processing, 'the slot to be busy');
    const queued = postJSON(ctx.server.baseURL, CHAT, { ...long, stream: false, max_tokens: 3 });
    await waitFor((s) => s.queued === 1, 'one queued request');

    const refused = await postJSON(ctx.server.baseURL, CHAT, { ...long, stream: false, max_tokens: 3 });
    assert.equal(refused.status, 503);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'Retry-After header');
    assert.equal((await refused.json()).error.code, 'unavailable');

    ac.abort();  // frees the slot for the queued request
    const done = await queued;
    assert.equal(done.status, 200);
    assert.equal((await done.json()).usage.completion_tokens, 3);
  });

  it('GET /metrics is Prometheus text with request, token and latency series', async () => {
    const res = await getURL(ctx.server.baseURL, '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    const value = (name) => {
      const m = new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text);
      assert.ok(m, `${name} in /metrics`);
      return Number(m[1]);
    };
    assert.ok(value('kiln_requests_finished_total') >= 1);
    assert.ok(value('kiln_requests_refused_total') >= 1);
    assert.ok(value('kiln_generated_tokens_total') >= 3);
    assert.ok(value('kiln_prompt_tokens_total') > 0);
    assert.equal(value('kiln_queue_depth'), 0);
    assert.match(text, /^# TYPE kiln_time_to_first_token_seconds histogram$/m);
    assert.match(text, /^kiln_time_to_first_token_seconds_bucket\{model="[^"]+",le="\+Inf"\} \d+$/m);
    assert.match(text, /^kiln_decode_step_seconds_count\{[^}]*\} \d+$/m);
    // the process's own memory and threads, unlabelled
    const plain = (name) => Number((new RegExp(`^${name} (\\d+)$`, 'm').exec(text) ?? [])[1]);
    assert.ok(plain('kiln_process_resident_bytes') > 1 << 20, 'resident bytes');
    assert.ok(plain('kiln_process_threads') >= 2, 'threads');
    if (/^kiln_process_heap_in_use_bytes /m.test(text)) {
      assert.ok(plain('kiln_process_heap_in_use_bytes') > 0);
      assert.ok(plain('kiln_process_heap_free_bytes') >= 0);
    }
  });
});
