// logprobs / top_logprobs and logit_bias through the official `openai`
// client: log-probabilities are the model's own distribution (softmax of the
// raw logits), so greedy decoding picks the top alternative every time, and
// a bias of +100 makes a token the only answer.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serveModel, postJSON, slow } from './harness.mjs';

describe('logprobs and logit_bias', { timeout: slow(300_000) }, () => {
  const ctx = serveModel();
  const chat = (params) => ctx.client.chat.completions.create({
    model: ctx.model.id, messages: [{ role: 'user', content: 'Tell me a story' }], temperature: 0, max_tokens: 8,
    ignore_eos: true, ...params,
  });

  const checkEntry = (e, top) => {
    assert.ok(e.logprob <= 0, `logprob ${e.logprob}`);
    assert.equal(e.top_logprobs.length, top);
    for (let i = 1; i < e.top_logprobs.length; i++) assert.ok(e.top_logprobs[i - 1].logprob >= e.top_logprobs[i].logprob);
    const mass = e.top_logprobs.reduce((a, t) => a + Math.exp(t.logprob), 0);
    assert.ok(mass <= 1 + 1e-4, `top probabilities add up to ${mass}`);
  };

  it('chat: one entry per token, greedy picks the top alternative, bytes make the text', async () => {
    const r = await chat({ logprobs: true, top_logprobs: 3 });
    const content = r.choices[0].logprobs.content;
    assert.equal(content.length, r.usage.completion_tokens);
    for (const e of content) {
      checkEntry(e, 3);
      assert.equal(e.token, e.top_logprobs[0].token, 'greedy: the chosen token is the most likely');
      assert.ok(Math.abs(e.logprob - e.top_logprobs[0].logprob) < 1e-5);
    }
    // A token may end inside a character (random weights pick such byte
    // pieces now and then, which ones depending on the CPU); its bytes then
    // decode to U+FFFD, one or more per broken sequence: compare up to that.
    const oneFFFD = (t) => t.replace(/\uFFFD+/g, '\uFFFD');
    const bytes = Buffer.concat(content.map((e) => Buffer.from(e.bytes)));
    assert.equal(oneFFFD(bytes.toString('utf8')), oneFFFD(r.choices[0].message.content));

    const plain = await chat({});
    assert.equal(plain.choices[0].logprobs, null, 'not asked, not given');
    assert.equal(plain.choices[0].message.content, r.choices[0].message.content, 'asking does not change the answer');
  });

  it('chat streamed: the chunks carry the same entries', async () => {
    const whole = await chat({ logprobs: true, top_logprobs: 2 });
    const stream = await chat({ logprobs: true, top_logprobs: 2, stream: true });
    const entries = [];
    for await (const chunk of stream) entries.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    assert.deepEqual(entries.map((e) => e.token), whole.choices[0].logprobs.content.map((e) => e.token));
    for (const e of entries) checkEntry(e, 2);
  });

  it('logit_bias: -100 bans the greedy choice, +100 forces a token', async () => {
    // The greedy first token's id, through /tokenize: only when its text is
    // whole and tokenizes back to that one token (not so for a byte piece, a
    // control token or a non-canonical merge; which token greedy picks
    // depends on the CPU), so a few prompts are tried.
    let first;
    let id0;
    let messages;
    for (const content of ['Tell me a story', 'Hello', 'Once upon a time', 'What is a kiln?', 'Say something']) {
      messages = [{ role: 'user', content }];
      const r = await chat({ messages, max_tokens: 1 });
      const text = r.choices[0].message.content;
      if (text === '' || text.includes('\uFFFD')) continue;
      const tok = await (await postJSON(ctx.server.baseURL, '/tokenize', { content: text, with_pieces: true })).json();
      if (tok.tokens.length === 1 && tok.tokens[0].piece === text) {
        first = r;
        id0 = tok.tokens[0].id;
        break;
      }
    }
    assert.ok(first, 'one of five greedy first tokens tokenizes back to itself');
    const banned = await chat({ messages, max_tokens: 1, logit_bias: { [id0]: -100 } });
    assert.notEqual(banned.choices[0].message.content, first.choices[0].message.content);

    const hello = await (await postJSON(ctx.server.baseURL, '/tokenize', { content: ' hello', with_pieces: true })).json();
    const id = hello.tokens[hello.tokens.length - 1].id;
    const piece = hello.tokens[hello.tokens.length - 1].piece;
    const forced = await chat({ max_tokens: 4, logit_bias: { [id]: 100 } });
    assert.equal(forced.choices[0].message.content, piece.repeat(4));
  });

  it('completions: logprobs N gives tokens, token_logprobs, top_logprobs and offsets', async () => {
    const r = await ctx.client.completions.create({ model: ctx.model.id, prompt: 'Once upon a time', max_tokens: 6,
      temperature: 0, ignore_eos: true, logprobs: 2 });
    const lp = r.choices[0].logprobs;
    assert.equal(lp.tokens.length, 6);
    assert.equal(lp.token_logprobs.length, 6);
    assert.equal(lp.top_logprobs.length, 6);
    assert.equal(lp.text_offset[0], 0);
    for (let i = 0; i < 6; i++) {
      assert.ok(lp.token_logprobs[i] <= 0);
      assert.ok(Object.keys(lp.top_logprobs[i]).length >= 1 && Object.keys(lp.top_logprobs[i]).length <= 2);
      if (i === 0) continue;
      // Offsets count the token's bytes. A byte piece that ends inside a
      // character arrives as U+FFFD (3 bytes for 1 to 3 raw ones): bounded then.
      const step = lp.text_offset[i] - lp.text_offset[i - 1];
      const shown = Buffer.from(lp.tokens[i - 1]).length;
      if (lp.tokens[i - 1].includes('\uFFFD')) assert.ok(step >= 1 && step <= shown, `offset step ${step} for ${shown} bytes`);
      else assert.equal(step, shown);
    }
  });

  it('bad values are 400s naming the field', async () => {
    const body = { model: ctx.model.id, messages: [{ role: 'user', content: 'x' }], max_tokens: 1 };
    const cases = [
      [{ logprobs: true, top_logprobs: 21 }, 'top_logprobs'],
      [{ top_logprobs: 2 }, 'top_logprobs'],
      [{ logprobs: 'yes' }, 'logprobs'],
      [{ logit_bias: { abc: 1 } }, 'logit_bias'],
      [{ logit_bias: { 5: 101 } }, 'logit_bias'],
      [{ logit_bias: { 99999999: 1 } }, 'logit_bias'],
      [{ logit_bias: [1, 2] }, 'logit_bias'],
    ];
    for (const [extra, param] of cases) {
      const res = await postJSON(ctx.server.baseURL, '/v1/chat/completions', { ...body, ...extra });
      assert.equal(res.status, 400, JSON.stringify(extra));
      assert.equal((await res.json()).error.param, param, JSON.stringify(extra));
    }
    const c = await postJSON(ctx.server.baseURL, '/v1/completions', { model: ctx.model.id, prompt: 'x', logprobs: 6 });
    assert.equal(c.status, 400);
  });
});
