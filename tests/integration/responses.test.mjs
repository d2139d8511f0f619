// OpenAI's Responses API through the official `openai` client: whole and
// streamed answers, the event sequence the SDK builds its response from,
// and conversations continued with previous_response_id (kept server-side,
// so the prefix cache serves the earlier turn).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { serveModel, postJSON, getURL, slow } from './harness.mjs';

describe('responses API', { timeout: slow(300_000) }, () => {
  const ctx = serveModel();

  it('a whole response: a message item, output_text, usage, incomplete at the limit', async () => {
    const r = await ctx.client.responses.create({ model: ctx.model.id, input: 'Tell me a story', max_output_tokens: 8,
      temperature: 0, instructions: 'Be brief.' });
    assert.match(r.id, /^resp_/);
    assert.equal(r.object, 'response');
    assert.equal(r.status, 'incomplete');
    assert.deepEqual(r.incomplete_details, { reason: 'max_output_tokens' });
    assert.equal(r.instructions, 'Be brief.');
    assert.equal(r.max_output_tokens, 8);
    const msg = r.output.find((o) => o.type === 'message');
    assert.equal(msg.role, 'assistant');
    assert.equal(msg.content[0].type, 'output_text');
    assert.equal(r.output_text, msg.content[0].text, 'the SDK reads the text from the items');
    assert.ok(r.output_text.length > 0);
    assert.equal(r.usage.output_tokens, 8);
    assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
  });

  it('streamed: numbered events in order, and the SDK final response matches the deltas', async () => {
    const stream = ctx.client.responses.stream({ model: ctx.model.id, input: 'Hi there', max_output_tokens: 6 });
    const types = [];
    let seq = -1;
    let text = '';
    let last = null;
    for await (const ev of stream) {
      assert.equal(ev.sequence_number, seq + 1, `${ev.type} is numbered in order`);
      seq = ev.sequence_number;
      types.push(ev.type);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.incomplete') last = ev.response;
    }
    const final = await stream.finalResponse();
    assert.deepEqual(types.slice(0, 4),
      ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    assert.deepEqual(types.slice(-4),
      ['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.incomplete']);
    assert.ok(types.filter((t) => t === 'response.output_text.delta').length >= 1);
    assert.equal(final.output.find((o) => o.type === 'message').content[0].text, text);
    assert.equal(last.status, 'incomplete');
    assert.equal(last.output[0].content[0].text, text, 'the last event carries the whole response');
  });

  it('previous_response_id continues the conversation; GET and DELETE find it', async () => {
    const first = await ctx.client.responses.create({ model: ctx.model.id, input: 'My name is Ada. Remember it.',
      max_output_tokens: 12, temperature: 0 });
    const second = await ctx.client.responses.create({ model: ctx.model.id, previous_response_id: first.id,
      input: 'What is my name?', max_output_tokens: 4, temperature: 0 });
    assert.equal(second.previous_response_id, first.id);
    // The history went back in: the prompt holds the first turn and its answer, served from the prefix cache.
    assert.ok(second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens,
      `${second.usage.input_tokens} vs ${first.usage.input_tokens} + ${first.usage.output_tokens}`);
    // All of the first prompt but perhaps its last token: it ends in "assistant\n", and an answer
    // that starts with a line break (which one comes out depends on the CPU) retokenizes as "\n\n".
    assert.ok(second.usage.input_tokens_details.cached_tokens >= first.usage.input_tokens - 1,
      `cached ${second.usage.input_tokens_details.cached_tokens} of ${first.usage.input_tokens}`);

    const got = await (await getURL(ctx.server.baseURL, `/v1/responses/${second.id}`)).json();
    assert.equal(got.id, second.id);
    assert.equal(got.output_text ?? got.output[0].content[0].text, second.output_text);
    const del = await fetch(`${ctx.server.baseURL}/v1/responses/${first.id}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.equal((await del.json()).deleted, true);
    await assert.rejects(
      ctx.client.responses.create({ model: ctx.model.id, previous_response_id: first.id, input: 'again' }),
      (e) => e instanceof OpenAI.NotFoundError && e.param === 'previous_response_id');
    const nostore = await ctx.client.responses.create({ model: ctx.model.id, input: 'x', store: false, max_output_tokens: 1 });
    assert.equal((await getURL(ctx.server.baseURL, `/v1/responses/${nostore.id}`)).status, 404);
  });

  it('input items: messages with parts, json_schema output, and bad items are 400s', async () => {
    const r = await ctx.client.responses.create({
      model: ctx.model.id, max_output_tokens: 200, temperature: 1,
      input: [{ role: 'developer', content: 'Answer in JSON.' },
        { role: 'user', content: [{ type: 'input_text', text: 'A color?' }] }],
      text: { format: { type: 'json_schema', name: 'c', schema: { type: 'object',
        properties: { color: { enum: ['red', 'blue'] } }, required: ['color'], additionalProperties: false } } },
    });
    assert.equal(r.status, 'completed', r.output_text);
    assert.ok(['red', 'blue'].includes(JSON.parse(r.output_text).color));
    const cases = [
      [{ input: null }, 'input'],
      [{ input: [] }, 'input'],
      [{ input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'x' }] }] }, 'input[0].content[0]'],
      [{ input: [{ type: 'item_reference', id: 'x' }] }, 'input[0].type'],
      [{ input: 'x', tools: [{ type: 'web_search' }] }, 'tools[0].type'],
      [{ input: 'x', max_output_tokens: 0 }, 'max_output_tokens'],
    ];
    for (const [extra, param] of cases) {
      const res = await postJSON(ctx.server.baseURL, '/v1/responses', { model: ctx.model.id, ...extra });
      assert.equal(res.status, 400, JSON.stringify(extra));
      assert.equal((await res.json()).error.param, param, JSON.stringify(extra));
    }
  });
});
