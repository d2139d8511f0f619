// Chat completions through the official `openai` client. Weights are random: assert on structure
// and behaviour only, never on wording.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serveModel, slow } from './harness.mjs';

const messages = [{ role: 'user', content: 'Hello' }];
const FINISH_REASONS = ['stop', 'length'];

describe('openai chat.completions', { timeout: slow(300_000) }, () => {
  const ctx = serveModel();

  const create = (params) => ctx.client.chat.completions.create({ model: ctx.model.id, messages, ...params });

  async function collectStream(params) {
    const chunks = [];
    const stream = await create({ ...params, stream: true });
    for await (const chunk of stream) chunks.push(chunk);
    return chunks;
  }

  const contentOf = (chunks) =>
    chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');

  it('models.list() includes the served model id (file name without .gguf)', async () => {
    const page = await ctx.client.models.list();
    assert.ok(Array.isArray(page.data), 'data is an array');
    const ids = page.data.map((m) => m.id);
    assert.ok(ids.includes(ctx.model.id), `expected ${ctx.model.id} in ${JSON.stringify(ids)}`);
  });

  it('non-streamed completion has the OpenAI shape', async () => {
    const res = await create({ max_tokens: 8, seed: 42, temperature: 0 });
    assert.equal(res.object, 'chat.completion');
    assert.equal(typeof res.id, 'string');
    assert.ok(res.id.startsWith('chatcmpl-'), `id ${res.id}`);
    assert.equal(res.choices.length, 1);
    const [choice] = res.choices;
    assert.equal(choice.index, 0);
    assert.equal(choice.message.role, 'assistant');
    assert.equal(typeof choice.message.content, 'string');
    assert.ok(FINISH_REASONS.includes(choice.finish_reason), `finish_reason ${choice.finish_reason}`);
    const { usage } = res;
    assert.ok(usage.prompt_tokens > 0, 'prompt_tokens > 0');
    assert.ok(usage.completion_tokens >= 1 && usage.completion_tokens <= 8,
      `completion_tokens ${usage.completion_tokens}`);
    assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  });

  it('streamed completion has role chunk, content, one finish_reason and a usage chunk', async () => {
    const chunks = await collectStream({
      max_tokens: 8, seed: 42, temperature: 0, stream_options: { include_usage: true },
    });
    assert.ok(chunks.length >= 3, `got ${chunks.length} chunks`);
    const { id } = chunks[0];
    assert.ok(typeof id === 'string' && id.startsWith('chatcmpl-'), `id ${id}`);
    for (const chunk of chunks) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.equal(chunk.id, id, 'all chunks share one id');
    }
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    assert.ok(chunks.some((c) => typeof c.choices[0]?.delta?.content === 'string' &&
      c.choices[0].delta.content.length > 0), 'at least one chunk carries text');

    const finished = chunks.filter((c) => c.choices[0]?.finish_reason != null);
    assert.equal(finished.length, 1, 'exactly one chunk has a finish_reason');
    assert.ok(FINISH_REASONS.includes(finished[0].choices[0].finish_reason));

    const last = chunks.at(-1);
    assert.equal(last.choices.length, 0, 'usage chunk has no choices');
    assert.ok(last.usage, 'usage chunk carries usage');
    assert.ok(last.usage.prompt_tokens > 0);
    assert.ok(last.usage.completion_tokens >= 1 && last.usage.completion_tokens <= 8);
    assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
    assert.equal(chunks.filter((c) => c.choices.length === 0).length, 1, 'one usage chunk');
  });

  it('is deterministic for a fixed seed, streamed or not', async () => {
    const params = { max_tokens: 16, seed: 7, temperature: 0.8 };
    const a = await create(params);
    const b = await create(params);
    assert.equal(a.choices[0].message.content, b.choices[0].message.content);
    const streamed = contentOf(await collectStream(params));
    assert.equal(streamed, a.choices[0].message.content, 'streamed text equals non-streamed text');
  });

  it('respects max_tokens', async () => {
    const res = await create({ max_tokens: 3, seed: 3, temperature: 1.5 });
    const { finish_reason } = res.choices[0];
    assert.ok(FINISH_REASONS.includes(finish_reason));
    assert.ok(res.usage.completion_tokens <= 3, `completion_tokens ${res.usage.completion_tokens}`);
    if (finish_reason === 'length') assert.equal(res.usage.completion_tokens, 3);
  });

  it('stops at a stop string and excludes it from the output', async (t) => {
    const params = { max_tokens: 16, seed: 11, temperature: 0 };
    const full = (await create(params)).choices[0].message.content;
    const chars = Array.from(full); // code points, so no surrogate pair is split
    if (chars.length < 4) return t.skip(`output too short (${JSON.stringify(full)})`);
    let start = Math.floor(chars.length / 2);
    while (start + 2 < chars.length && chars.slice(start, start + 2).includes('\uFFFD')) start++;
    const stop = chars.slice(start, start + 2).join('');
    if (stop.includes('\uFFFD')) return t.skip('no clean substring to use as stop');
    const expected = full.slice(0, full.indexOf(stop)); // the first occurrence is where it stops

    const res = await create({ ...params, stop });
    assert.equal(res.choices[0].message.content, expected, `stop=${JSON.stringify(stop)}`);
    assert.equal(res.choices[0].finish_reason, 'stop');
  });

  it('n choices: whole and streamed, each with its index; greedy choices agree; seeded ones differ', async () => {
    const whole = await create({ n: 3, max_tokens: 5, temperature: 1, seed: 11 });
    assert.deepEqual(whole.choices.map((c) => c.index), [0, 1, 2]);
    for (const c of whole.choices) {
      assert.equal(c.finish_reason, 'length');
      assert.equal(typeof c.message.content, 'string');
    }
    assert.equal(whole.usage.completion_tokens, 15);
    assert.ok(new Set(whole.choices.map((c) => c.message.content)).size > 1, 'seeds move per choice');

    const greedy = await create({ n: 2, max_tokens: 6, temperature: 0 });
    assert.equal(greedy.choices[0].message.content, greedy.choices[1].message.content);

    const chunks = await collectStream({ n: 2, max_tokens: 6, temperature: 0, stream_options: { include_usage: true } });
    const texts = ['', ''];
    const finishes = [];
    for (const chunk of chunks) {
      for (const c of chunk.choices) {
        texts[c.index] += c.delta?.content ?? '';
        if (c.finish_reason) finishes[c.index] = c.finish_reason;
      }
    }
    assert.deepEqual(texts, [greedy.choices[0].message.content, greedy.choices[0].message.content]);
    assert.deepEqual(finishes, ['length', 'length']);
    assert.equal(chunks.at(-1).usage.completion_tokens, 12);

    await assert.rejects(create({ n: 17 }), (err) => err.status === 400 && err.error?.param === 'n');
  });
});
