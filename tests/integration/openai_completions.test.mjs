// Legacy text completions (/v1/completions) through the official `openai` client.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serveModel, postJSON, readSSE, slow } from './harness.mjs';

const prompt = 'Once upon a time';
const FINISH_REASONS = ['stop', 'length'];

function assertUsage(usage, maxCompletion) {
  assert.ok(usage, 'usage present');
  assert.ok(usage.prompt_tokens > 0, `prompt_tokens ${usage.prompt_tokens}`);
  assert.ok(usage.completion_tokens >= 1 && usage.completion_tokens <= maxCompletion,
    `completion_tokens ${usage.completion_tokens}`);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
}

describe('openai completions', { timeout: slow(300_000) }, () => {
  const ctx = serveModel();

  const create = (params) => ctx.client.completions.create({ model: ctx.model.id, prompt, ...params });

  async function collectStream(params) {
    const chunks = [];
    const stream = await create({ ...params, stream: true });
    for await (const chunk of stream) chunks.push(chunk);
    return chunks;
  }

  it('non-streamed completion has the OpenAI shape', async () => {
    const res = await create({ max_tokens: 5, seed: 1, temperature: 0 });
    assert.equal(res.object, 'text_completion');
    assert.ok(typeof res.id === 'string' && res.id.length > 0, 'id is a non-empty string');
    assert.equal(res.choices.length, 1);
    assert.equal(res.choices[0].index, 0);
    assert.equal(typeof res.choices[0].text, 'string');
    assert.ok(FINISH_REASONS.includes(res.choices[0].finish_reason),
      `finish_reason ${res.choices[0].finish_reason}`);
    assertUsage(res.usage, 5);
  });

  it('streamed completion yields text chunks and ends with a finish_reason', async () => {
    const chunks = await collectStream({ max_tokens: 5, seed: 1, temperature: 0 });
    const withChoices = chunks.filter((c) => c.choices.length > 0);
    assert.ok(withChoices.length >= 1, 'at least one choice chunk');
    for (const chunk of withChoices) assert.equal(typeof chunk.choices[0].text, 'string');
    const finished = withChoices.filter((c) => c.choices[0].finish_reason != null);
    assert.equal(finished.length, 1, 'exactly one chunk has a finish_reason');
    assert.equal(finished[0], withChoices.at(-1), 'the last choice chunk carries finish_reason');
    assert.ok(FINISH_REASONS.includes(finished[0].choices[0].finish_reason));
    const ids = new Set(chunks.map((c) => c.id));
    assert.equal(ids.size, 1, 'all chunks share one id');
  });

  it('streamed text equals non-streamed text for the same seed', async () => {
    const params = { max_tokens: 12, seed: 5, temperature: 0.9 };
    const whole = (await create(params)).choices[0].text;
    const streamed = (await collectStream(params)).map((c) => c.choices[0]?.text ?? '').join('');
    assert.equal(streamed, whole);
  });

  it('stream_options.include_usage adds a final usage chunk', async () => {
    const chunks = await collectStream({
      max_tokens: 5, seed: 1, temperature: 0, stream_options: { include_usage: true },
    });
    const last = chunks.at(-1);
    assert.equal(last.choices.length, 0, 'usage chunk has no choices');
    assertUsage(last.usage, 5);
    assert.equal(chunks.filter((c) => c.choices.length === 0).length, 1, 'one usage chunk');
  });

  it('raw SSE stream ends with data: [DONE]', async () => {
    const res = await postJSON(ctx.server.baseURL, '/v1/completions',
      { model: ctx.model.id, prompt, max_tokens: 3, stream: true });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const sse = await readSSE(res);
    assert.ok(sse.done, `[DONE] must be the final event:\n${sse.raw}`);
    assert.ok(sse.events.length >= 1);
  });

  it('array prompts, token prompts and echo: each prompt its own choices, in order', async () => {
    const r = await create({ prompt: ['Hello', 'World'], n: 2, max_tokens: 3, temperature: 0, echo: true });
    assert.equal(r.choices.length, 4);
    assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2, 3]);
    assert.ok(r.choices[0].text.startsWith('Hello') && r.choices[1].text.startsWith('Hello'));
    assert.ok(r.choices[2].text.startsWith('World') && r.choices[3].text.startsWith('World'));
    const alone = await create({ prompt: 'World', max_tokens: 3, temperature: 0 });
    assert.equal(r.choices[2].text, 'World' + alone.choices[0].text, 'echo puts the prompt before the same answer');

    const tok = await (await postJSON(ctx.server.baseURL, '/tokenize', { content: 'Once upon a time' })).json();
    const byIds = await create({ prompt: tok.tokens, max_tokens: 4, temperature: 0 });
    const byText = await create({ max_tokens: 4, temperature: 0 });
    assert.equal(byIds.choices[0].text, byText.choices[0].text, 'token ids are the same prompt');
    assert.equal(byIds.usage.prompt_tokens, tok.tokens.length);

    const chunks = await collectStream({ max_tokens: 3, echo: true });
    assert.equal(chunks[0].choices[0].text, prompt, 'streamed, the prompt comes first');

    const bad = [
      [{ prompt: [1, 'x'] }, 'prompt'],
      [{ prompt: [99999999] }, 'prompt'],
      [{ prompt: Array.from({ length: 65 }, () => 'x') }, 'prompt'],
      [{ prompt: 'x', suffix: 'y' }, 'suffix'],
    ];
    for (const [extra, param] of bad) {
      const res = await postJSON(ctx.server.baseURL, '/v1/completions', { model: ctx.model.id, max_tokens: 1, ...extra });
      assert.equal(res.status, 400, JSON.stringify(extra));
      assert.equal((await res.json()).error.param, param, JSON.stringify(extra));
    }
  });
});

describe('fill in the middle', { timeout: slow(300_000) }, () => {
  // deepseek-coder's vocabulary has FIM tokens: prefix, suffix, middle.
  const ctx = serveModel({ name: 'coder', modelArgs: ['--arch', 'llama', '--vocab', 'deepseek-coder', '--n-embd', '64',
    '--n-layer', '2', '--n-head', '4', '--n-ff', '128', '--ctx', '512', '--type', 'f16'] });

  it('suffix: the prompt is <prefix> + <suffix> + <middle>, with the model writing the middle', async () => {
    const count = async (text) => (await (await postJSON(ctx.server.baseURL, '/tokenize', { content: text })).json()).tokens.length;
    const r = await ctx.client.completions.create({ model: ctx.model.id, prompt: 'def add(a, b):\n', suffix: '\n    return c\n',
      max_tokens: 5, temperature: 0 });
    assert.equal(r.choices[0].finish_reason, 'length');
    const bos = 1;
    assert.equal(r.usage.prompt_tokens, bos + 3 + await count('def add(a, b):\n') + await count('\n    return c\n'));
  });
});
