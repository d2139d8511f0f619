// LM Studio's REST API: /api/v0 models and answers with stats, /api/v1 models
// with loaded instances (its load and unload are in router.test.mjs).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { makeModel, startServer, tempDir, postJSON, getURL } from './harness.mjs';

describe('lm studio rest api', { timeout: 300_000 }, () => {
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
  }, { timeout: 180_000 });

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
