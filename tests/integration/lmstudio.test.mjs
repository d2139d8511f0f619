// LM Studio's REST API: /api/v0 models and answers with stats, /api/v1 models
// with loaded instances (its load and unload are in router.test.mjs).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { makeModel, startServer, tempDir, postJSON, getURL, slow } from './harness.mjs';

describe('lm studio rest api', { timeout: slow(300_000) }, () => {
  let server;

  before(async () => {
    const home = await tempDir('kiln-home-');
    const chat = path.join(home, 'models', 'lmstudio-community', 'tiny');
    await fs.mkdir(chat, { recursive: true });
    await makeModel(chat, ['--arch', 'llama', '--vocab', 'qwen2', '--n-embd', '64', '--n-layer', '2', '--n-head', '4',
      '--n-head-kv', '2', '--n-ff', '128', '--ctx', '1024', '--type', 'f16', '-o', 'tiny-F16.gguf']);
    const emb = path.join(home, 'models', 'test', 'emb');
    await fs.mkdir(emb, { recursive: true });
    await makeModel(emb, ['--arch', 'bert', '--vocab', 'bert-bge', '--n-embd', '128', '--n-layer', '2', '--n-head', '4',
      '--n-ff', '256', '--ctx', '512', '--type', 'f16', '-o', 'emb-F16.gguf']);
    server = await startServer({ home, args: ['--cache-ram', '0'] });
  }, { timeout: slow(180_000) });

  after(async () => {
    await server?.stop();
  });

  it('v0 models: every model with type, state and context; one by id', async () => {
    const list = await (await getURL(server.baseURL, '/api/v0/models')).json();
    assert.equal(list.object, 'list');
    const tiny = list.data.find((m) => m.id === 'lmstudio-community/tiny:F16');
    assert.ok(tiny, JSON.stringify(list));
    assert.equal(tiny.type, 'llm');
    assert.equal(tiny.publisher, 'lmstudio-community');
    assert.equal(tiny.compatibility_type, 'gguf');
    assert.equal(tiny.quantization, 'F16');
    assert.equal(tiny.state, 'not-loaded');
    assert.equal(tiny.max_context_length, 1024);
    assert.equal(list.data.find((m) => m.id === 'test/emb:F16').type, 'embeddings');
    const one = await getURL(server.baseURL, '/api/v0/models/lmstudio-community/tiny:F16');
    assert.equal((await one.json()).id, 'lmstudio-community/tiny:F16');
    assert.equal((await getURL(server.baseURL, '/api/v0/models/nope')).status, 404);
  });

  it('v0 chat and completions add stats, model_info and runtime; the model loads just in time', async () => {
    const r = await postJSON(server.baseURL, '/api/v0/chat/completions', {
      model: 'lmstudio-community/tiny:F16', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, ttl: 60,
    });
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.usage.completion_tokens, 5);
    assert.equal(body.stats.stop_reason, 'maxPredictedTokensReached');
    assert.ok(body.stats.tokens_per_second > 0);
    assert.ok(body.stats.time_to_first_token >= 0);
    assert.equal(body.model_info.arch, 'llama');
    assert.equal(body.model_info.quant, 'F16');
    assert.equal(body.model_info.context_length, 1024);
    assert.deepEqual(body.runtime.supported_formats, ['gguf']);
    const c = await (await postJSON(server.baseURL, '/api/v0/completions', {
      model: 'lmstudio-community/tiny:F16', prompt: 'Once', max_tokens: 3,
    })).json();
    assert.equal(c.object, 'text_completion');
    assert.equal(c.stats.stop_reason, 'maxPredictedTokensReached');
    const e = await (await postJSON(server.baseURL, '/api/v0/embeddings', { model: 'test/emb', input: 'hello' })).json();
    assert.equal(e.data[0].embedding.length, 128);
  });

  it('v1 models: loaded instances with their context', async () => {
    const { models } = await (await getURL(server.baseURL, '/api/v1/models')).json();
    const tiny = models.find((m) => m.key === 'lmstudio-community/tiny:F16');
    assert.equal(tiny.type, 'llm');
    assert.equal(tiny.format, 'gguf');
    assert.deepEqual(tiny.loaded_instances, [{ id: 'lmstudio-community/tiny:F16', config: { context_length: 1024 } }]);
    assert.equal(tiny.max_context_length, 1024);
    assert.match(tiny.params_string, /M$/);
  });

  it('v1 chat: whole and streamed events, stats, continued with previous_response_id', async () => {
    const model = 'lmstudio-community/tiny:F16';
    const first = await (await postJSON(server.baseURL, '/api/v1/chat', { model, input: 'My name is Ada.',
      system_prompt: 'Be brief.', max_output_tokens: 6, temperature: 0 })).json();
    assert.equal(first.model_instance_id, model);
    assert.equal(first.output.at(-1).type, 'message');
    assert.equal(typeof first.output.at(-1).content, 'string');
    assert.equal(first.stats.total_output_tokens, 6);
    assert.ok(first.stats.input_tokens > 0);
    assert.ok(first.stats.time_to_first_token_seconds >= 0);
    assert.match(first.response_id, /^resp_/);

    const res = await postJSON(server.baseURL, '/api/v1/chat', { model, input: 'And my name?', max_output_tokens: 4,
      previous_response_id: first.response_id, stream: true });
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const events = (await res.text()).trim().split('\n\n').map((block) => {
      const [ev, data] = block.split('\n');
      return { event: ev.slice(7), data: JSON.parse(data.slice(6)) };
    });
    const names = events.map((e) => e.event);
    assert.deepEqual(names.slice(0, 3), ['chat.start', 'prompt_processing.start', 'prompt_processing.end']);
    assert.equal(names[3], 'message.start');
    assert.deepEqual(names.slice(-2), ['message.end', 'chat.end']);
    for (const e of events) assert.equal(e.data.type, e.event);
    const text = events.filter((e) => e.event === 'message.delta').map((e) => e.data.content).join('');
    const result = events.at(-1).data.result;
    assert.equal(result.output.at(-1).content, text);
    assert.ok(result.stats.input_tokens > first.stats.input_tokens + first.stats.total_output_tokens,
      'the earlier turn went back in');

    const nostore = await (await postJSON(server.baseURL, '/api/v1/chat', { model, input: 'x', store: false, max_output_tokens: 1 })).json();
    assert.equal(nostore.response_id, undefined);
    const bad = [
      [{ input: 'x' }, 400],
      [{ model, input: 'x', previous_response_id: 'resp_nope' }, 404],
      [{ model, input: 'x', reasoning: 'on' }, 400],
      [{ model, input: 'x', reasoning: 'maybe' }, 400],
      [{ model, input: [{ type: 'image', data_url: 'x' }] }, 400],
      [{ model, input: 'x', integrations: ['mcp/playwright'] }, 400],
    ];
    for (const [body, status] of bad) {
      const r = await postJSON(server.baseURL, '/api/v1/chat', body);
      assert.equal(r.status, status, JSON.stringify(body));
      assert.ok((await r.json()).error.message);
    }
  });

  it('--listen serves the same routes on more addresses (as on LM Studio\'s port)', async () => {
    const home = await tempDir('kiln-home-');
    const two = await startServer({ home, args: ['--listen', '127.0.0.1:0,0', '--cache-ram', '0'] });
    try {
      const urls = [...two.stdout.matchAll(/http:\/\/127\.0\.0\.1:\d+/g)].map((m) => m[0]);
      assert.equal(new Set(urls).size, 3, two.stdout);
      for (const url of urls) {
        const r = await getURL(url, '/api/v0/models');
        assert.equal(r.status, 200, url);
        assert.equal((await r.json()).object, 'list');
      }
      const { code } = await two.stop();
      assert.equal(code, 0);
    } finally {
      await two.stop();
    }
  });
});
