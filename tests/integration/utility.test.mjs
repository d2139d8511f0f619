// llama-server's utility routes: /tokenize, /detokenize, /apply-template, /props.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serveModel, postJSON, getURL, slow } from './harness.mjs';

describe('utility routes', { timeout: slow(300_000) }, () => {
  const ctx = serveModel();

  it('tokenize and detokenize round-trip, with pieces on request', async () => {
    const text = 'Hello world, héllo wörld';
    const t = await postJSON(ctx.server.baseURL, '/tokenize', { content: text });
    assert.equal(t.status, 200);
    const { tokens } = await t.json();
    assert.ok(tokens.length > 0 && tokens.every(Number.isInteger));
    const d = await postJSON(ctx.server.baseURL, '/detokenize', { tokens });
    assert.equal((await d.json()).content, text);
    const p = await (await postJSON(ctx.server.baseURL, '/tokenize', { content: text, with_pieces: true })).json();
    assert.deepEqual(p.tokens.map((x) => x.id), tokens);
    assert.equal(typeof p.tokens[0].piece, 'string');
    assert.equal(p.tokens.map((x) => x.piece).join('').slice(0, 11), 'Hello world');
  });

  it('apply-template renders the chat as the model would see it', async () => {
    const r = await postJSON(ctx.server.baseURL, '/apply-template', {
      messages: [{ role: 'system', content: 'Be kind' }, { role: 'user', content: 'Hi there' }],
    });
    assert.equal(r.status, 200);
    const { prompt } = await r.json();
    assert.match(prompt, /<\|im_start\|>system\nBe kind<\|im_end\|>/);
    assert.match(prompt, /<\|im_start\|>user\nHi there<\|im_end\|>\n<\|im_start\|>assistant\n$/);
  });

  it('props tells slots, context and the template', async () => {
    const r = await getURL(ctx.server.baseURL, '/props');
    const props = await r.json();
    assert.equal(props.total_slots, 4);
    assert.equal(props.model_alias, ctx.model.id);
    assert.ok(props.default_generation_settings.n_ctx > 0);
    assert.match(props.chat_template, /im_start/);
  });

  it('bad input is a 400 naming the field', async () => {
    const cases = [
      ['/tokenize', {}, 'content'],
      ['/tokenize', { content: 5 }, 'content'],
      ['/detokenize', { tokens: 'abc' }, 'tokens'],
      ['/detokenize', { tokens: [1, 99999999] }, 'tokens'],
      ['/apply-template', { messages: [] }, 'messages'],
    ];
    for (const [route, body, param] of cases) {
      const r = await postJSON(ctx.server.baseURL, route, body);
      assert.equal(r.status, 400, `${route} ${JSON.stringify(body)}`);
      assert.equal((await r.json()).error.param, param);
    }
    const unknown = await postJSON(ctx.server.baseURL, '/tokenize', { content: 'x', model: 'nope' });
    assert.equal(unknown.status, 404);
  });
});
