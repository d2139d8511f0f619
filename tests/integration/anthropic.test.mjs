// Anthropic's Messages API through the official @anthropic-ai/sdk: whole and
// streamed (named events), system, stop sequences, max_tokens, token
// counting, and errors in Anthropic's envelope.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { makeTinyModel, startServer, removeDir, postJSON, readSSE, REQUEST_TIMEOUT_MS, slow } from './harness.mjs';

describe('anthropic messages', { timeout: slow(300_000) }, () => {
  let model;
  let server;
  let client;

  before(async () => {
    model = await makeTinyModel();
    server = await startServer({ model: model.path, args: ['--api-key', 'sk-ant-local'] });
    client = new Anthropic({ baseURL: server.baseURL, apiKey: 'sk-ant-local', maxRetries: 0, timeout: REQUEST_TIMEOUT_MS });
  }, { timeout: slow(180_000) });

  after(async () => {
    await server?.stop();
    await removeDir(model?.dir);
  });

  it('a whole message: content, stop reason and usage', async () => {
    const msg = await client.messages.create({
      model: model.id, max_tokens: 6, system: 'Be brief', temperature: 0,
      messages: [{ role: 'user', content: 'Hello' }, { role: 'assistant', content: 'Hi' }, { role: 'user', content: [{ type: 'text', text: 'More' }] }],
    });
    assert.match(msg.id, /^msg_/);
    assert.equal(msg.type, 'message');
    assert.equal(msg.role, 'assistant');
    assert.equal(msg.model, model.id);
    assert.equal(msg.content[0].type, 'text');
    assert.equal(typeof msg.content[0].text, 'string');
    assert.equal(msg.stop_reason, 'max_tokens');
    assert.equal(msg.stop_sequence, null);
    assert.equal(msg.usage.output_tokens, 6);
    assert.ok(msg.usage.input_tokens > 0);
  });

  it('streamed: named events, and the SDK assembles the same text', async () => {
    const whole = await client.messages.create({ model: model.id, max_tokens: 8, temperature: 0,
      messages: [{ role: 'user', content: 'Hello' }] });
    const stream = client.messages.stream({ model: model.id, max_tokens: 8, temperature: 0,
      messages: [{ role: 'user', content: 'Hello' }] });
    const types = [];
    stream.on('streamEvent', (e) => types.push(e.type));
    const final = await stream.finalMessage();
    assert.equal(final.content[0].text, whole.content[0].text);
    assert.equal(final.stop_reason, 'max_tokens');
    assert.equal(final.usage.output_tokens, 8);
    assert.ok(final.usage.input_tokens > 0);
    assert.equal(types[0], 'message_start');
    assert.equal(types[1], 'content_block_start');
    assert.ok(types.includes('content_block_delta'));
    assert.deepEqual(types.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);

    const raw = await postJSON(server.baseURL, '/v1/messages', { model: model.id, max_tokens: 3, stream: true,
      messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    assert.equal(raw.status, 401, 'no key: refused');
  });

  it('a stop sequence ends the answer and is reported', async () => {
    const whole = await client.messages.create({ model: model.id, max_tokens: 24, temperature: 0,
      messages: [{ role: 'user', content: 'Tell me' }] });
    const text = whole.content[0].text;
    // A stop string the greedy answer is known to produce, a little way in:
    // two whole code points (no half of a surrogate pair), neither blank nor
    // U+FFFD (a token that ends inside a character), since which tokens come
    // out depends on the CPU's rounding.
    const chars = Array.from(text);
    let at = Math.min(2, Math.max(0, chars.length - 2));
    const clean = (i) => chars.slice(i, i + 2).every((c) => c !== '\uFFFD' && c.trim() !== '');
    while (at + 2 <= chars.length && !clean(at)) at++;
    assert.ok(at + 2 <= chars.length, `an answer with two clean characters to cut at: ${JSON.stringify(text)}`);
    const stop = chars.slice(at, at + 2).join('');
    const cut = await client.messages.create({ model: model.id, max_tokens: 24, temperature: 0, stop_sequences: [stop],
      messages: [{ role: 'user', content: 'Tell me' }] });
    assert.equal(cut.stop_reason, 'stop_sequence');
    assert.equal(cut.stop_sequence, stop);
    assert.ok(!cut.content[0].text.includes(stop));
    assert.ok(text.startsWith(cut.content[0].text));
  });

  it('counts tokens without generating', async () => {
    const n = await client.messages.countTokens({ model: model.id, messages: [{ role: 'user', content: 'Hello there' }] });
    const msg = await client.messages.create({ model: model.id, max_tokens: 1, messages: [{ role: 'user', content: 'Hello there' }] });
    assert.equal(n.input_tokens, msg.usage.input_tokens + msg.usage.cache_read_input_tokens);
  });

  it('errors are Anthropic\'s envelope with the right status', async () => {
    await assert.rejects(client.messages.create({ model: 'nope', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
      (err) => err.status === 404 && err.error?.type === 'error' && err.error?.error?.type === 'not_found_error');
    const cases = [
      [{ model: model.id, messages: [{ role: 'user', content: 'x' }] }, /max_tokens/],
      [{ model: model.id, max_tokens: 5, messages: [] }, /must not be empty/],
      [{ model: model.id, max_tokens: 5, messages: [{ role: 'system', content: 'x' }] }, /user or assistant/],
      [{ model: model.id, max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'image', source: {} }] }] }, /text only/],
      [{ model: model.id, max_tokens: 5, tools: [{ name: 't', input_schema: {} }], messages: [{ role: 'user', content: 'x' }] }, /does not support tools/],
      [{ model: model.id, max_tokens: 5, temperature: 3, messages: [{ role: 'user', content: 'x' }] }, /temperature/],
    ];
    for (const [body, message] of cases) {
      await assert.rejects(client.messages.create(body), (err) => {
        assert.equal(err.status, 400, JSON.stringify(body));
        assert.equal(err.error.error.type, 'invalid_request_error');
        assert.match(err.error.error.message, message);
        return true;
      });
    }
  });
});
