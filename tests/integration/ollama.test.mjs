// Ollama's generate and chat routes (streamed NDJSON and whole), its load and
// unload forms, /api/tags and /api/version, driven by the official ollama client.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Ollama } from 'ollama';
import { makeModel, startServer, tempDir, postJSON, getURL, slow } from './harness.mjs';

const modelArgs = ['--arch', 'llama', '--vocab', 'qwen2', '--n-embd', '64', '--n-layer', '2', '--n-head', '4',
  '--n-head-kv', '2', '--n-ff', '128', '--ctx', '1024', '--type', 'f16'];

describe('ollama generate and chat', { timeout: slow(300_000) }, () => {
  let server;
  let ollama;

  before(async () => {
    const home = await tempDir('kiln-home-');
    for (const [i, name] of ['a', 'b'].entries()) {
      const dir = path.join(home, 'models', 'test', name);
      await fs.mkdir(dir, { recursive: true });
      await makeModel(dir, [...modelArgs, '--seed', String(i + 1), '-o', `${name}-F16.gguf`]);
    }
    const emb = path.join(home, 'models', 'test', 'emb');
    await fs.mkdir(emb, { recursive: true });
    await makeModel(emb, ['--arch', 'bert', '--vocab', 'bert-bge', '--n-embd', '128', '--n-layer', '2', '--n-head', '4',
      '--n-ff', '256', '--ctx', '512', '--type', 'f16', '-o', 'emb-F16.gguf']);
    server = await startServer({ home, args: ['--cache-ram', '0'] });
    ollama = new Ollama({ host: server.baseURL });
  }, { timeout: slow(180_000) });

  after(async () => {
    await server?.stop();
  });

  it('answers the probes clients make: GET /, /api/version, /api/tags', async () => {
    const root = await getURL(server.baseURL, '/');
    assert.equal(await root.text(), 'Ollama is running');
    const { version } = await ollama.version();
    assert.match(version, /^\d+\.\d+\.\d+$/);
    const { models } = await ollama.list();
    const a = models.find((m) => m.name === 'test/a:F16');
    assert.ok(a, JSON.stringify(models));
    assert.equal(a.details.format, 'gguf');
    assert.equal(a.details.family, 'llama');
    assert.equal(a.details.quantization_level, 'F16');
    assert.ok(a.size > 0);
    assert.ok(!Number.isNaN(new Date(a.modified_at).getTime()));
  });

  it('chat, whole and streamed, with options; durations in nanoseconds', async () => {
    const whole = await ollama.chat({
      model: 'test/a', messages: [{ role: 'user', content: 'Hello' }], options: { num_predict: 6, temperature: 0 },
    });
    assert.equal(whole.done, true);
    assert.equal(whole.done_reason, 'length');
    assert.equal(whole.message.role, 'assistant');
    assert.equal(typeof whole.message.content, 'string');
    assert.equal(whole.eval_count, 6);
    assert.ok(whole.prompt_eval_count > 0);
    assert.ok(Number.isInteger(whole.total_duration) && whole.total_duration >= whole.eval_duration);

    const parts = [];
    let last;
    for await (const part of await ollama.chat({
      model: 'test/a', messages: [{ role: 'user', content: 'Hello' }], stream: true, options: { num_predict: 6, temperature: 0 },
    })) {
      if (part.done) last = part;
      else parts.push(part.message.content);
    }
    assert.equal(last.done_reason, 'length');
    assert.equal(last.eval_count, 6);
    assert.equal(parts.join(''), whole.message.content, 'greedy: streamed text equals the whole answer');
  });

  it('generate, whole and streamed, with system and raw', async () => {
    const whole = await ollama.generate({ model: 'test/a', prompt: 'Hi', system: 'Be brief', options: { num_predict: 5, temperature: 0 } });
    assert.equal(whole.done, true);
    assert.equal(whole.eval_count, 5);
    assert.equal(typeof whole.response, 'string');
    let text = '';
    for await (const part of await ollama.generate({
      model: 'test/a', prompt: 'Hi', system: 'Be brief', stream: true, options: { num_predict: 5, temperature: 0 },
    })) {
      text += part.response;
    }
    assert.equal(text, whole.response);
    const raw = await ollama.generate({ model: 'test/a', prompt: 'Once upon a time', raw: true, options: { num_predict: 3 } });
    assert.equal(raw.eval_count, 3);
    // Whole code points: a UTF-16 slice may cut a surrogate pair, and a lone surrogate is not valid JSON text.
    const stop = Array.from(whole.response).slice(1, 3).join('') || 'x';
    const stopped = await ollama.generate({ model: 'test/a', prompt: 'Hi', options: { num_predict: 40, temperature: 0, stop: [stop] } });
    assert.ok(stopped.eval_count <= 40);
  });

  it('an empty prompt loads the model; keep_alive 0 unloads it', async () => {
    const loaded = await ollama.generate({ model: 'test/b', prompt: '' });
    assert.equal(loaded.done_reason, 'load');
    assert.ok((await ollama.ps()).models.some((m) => m.name === 'test/b:F16'));
    const unloaded = await ollama.generate({ model: 'test/b', prompt: '', keep_alive: 0 });
    assert.equal(unloaded.done_reason, 'unload');
    assert.ok(!(await ollama.ps()).models.some((m) => m.name === 'test/b:F16'));
    const chatLoad = await ollama.chat({ model: 'test/b', messages: [] });
    assert.equal(chatLoad.done_reason, 'load');
    assert.equal(chatLoad.message.content, '');
    const withCtx = await ollama.generate({ model: 'test/b', prompt: '', options: { num_ctx: 512 } });
    assert.equal(withCtx.done_reason, 'load');
    assert.equal((await ollama.ps()).models.find((m) => m.name === 'test/b:F16').context_length, 512);
  });

  it('errors are Ollama\'s {"error"} with the right status', async () => {
    await assert.rejects(ollama.chat({ model: 'test/zz:F16', messages: [{ role: 'user', content: 'x' }] }),
      (err) => err.status_code === 404 && /not found/.test(err.error));
    const cases = [
      [{ model: 'test/a', messages: 'hi' }, 400, /'messages' must be an array/],
      [{ model: 'test/a', messages: [{ role: 'wizard', content: 'x' }] }, 400, /role/],
      [{ model: 'test/a', messages: [{ role: 'user', content: 'x' }], options: { temperature: 'hot' } }, 400, /temperature/],
      [{ model: 'test/a', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f' } }] }, 400, /does not support tools/],
      [{ messages: [{ role: 'user', content: 'x' }] }, 400, /'model' is required/],
    ];
    for (const [body, status, message] of cases) {
      const res = await postJSON(server.baseURL, '/api/chat', body);
      assert.equal(res.status, status, JSON.stringify(body));
      assert.match((await res.json()).error, message);
    }
    const broken = await postJSON(server.baseURL, '/api/generate', '{"model": "test/a", "prompt": ');
    assert.equal(broken.status, 400);
  });

  it('embed (normalized, batched) and the legacy embeddings route', async () => {
    const r = await ollama.embed({ model: 'test/emb', input: ['hello world', 'good night'] });
    assert.equal(r.model, 'test/emb:F16');
    assert.equal(r.embeddings.length, 2);
    assert.equal(r.embeddings[0].length, 128);
    const norm = Math.hypot(...r.embeddings[0]);
    assert.ok(Math.abs(norm - 1) < 1e-3, `L2 norm ${norm}`);
    assert.ok(r.prompt_eval_count > 0);
    // Alone and batched may run different kernels (with ARM's f16 arithmetic, llamafile's GEMM only from 8 rows):
    // the same vector up to rounding.
    const one = await ollama.embed({ model: 'test/emb', input: 'hello world' });
    assert.equal(one.embeddings[0].length, 128);
    const cos = one.embeddings[0].reduce((s, x, i) => s + x * r.embeddings[0][i], 0);
    assert.ok(cos > 0.9999, `alone vs batched: cosine ${cos}`);
    assert.deepEqual((await ollama.embed({ model: 'test/emb', input: 'hello world' })).embeddings, one.embeddings, 'deterministic');
    const legacy = await ollama.embeddings({ model: 'test/emb', prompt: 'hello world' });
    assert.equal(legacy.embedding.length, 128);
    const scale = Math.hypot(...legacy.embedding);
    legacy.embedding.forEach((x, i) => assert.ok(Math.abs(x / scale - r.embeddings[0][i]) < 1e-3));
    assert.deepEqual((await ollama.embeddings({ model: 'test/emb', prompt: '' })).embedding, []);
    await assert.rejects(ollama.embed({ model: 'test/a', input: 'x' }), (err) => err.status_code === 400);
  });

  it('show, copy and delete work on the catalog; deleting a copy keeps the original', async () => {
    const shown = await ollama.show({ model: 'test/a' });
    assert.equal(shown.details.family, 'llama');
    assert.equal(shown.model_info['general.architecture'], 'llama');
    assert.equal(shown.model_info['llama.context_length'], 1024);
    assert.ok(shown.capabilities.includes('completion'));
    assert.match(shown.template, /im_start/);
    assert.match(shown.modelfile, /^# Modelfile/);
    await ollama.copy({ source: 'test/a', destination: 'mine' });
    const chatted = await ollama.chat({ model: 'mine', messages: [{ role: 'user', content: 'x' }], options: { num_predict: 2 } });
    assert.equal(chatted.model, 'test/a:F16');
    await ollama.delete({ model: 'mine' });
    const names = (await ollama.list()).models.map((m) => m.name);
    assert.ok(names.includes('test/a:F16'), 'the original stays');
    await ollama.delete({ model: 'test/b' });
    assert.ok(!(await ollama.list()).models.some((m) => m.name === 'test/b:F16'));
    await assert.rejects(ollama.delete({ model: 'test/b' }), (err) => err.status_code === 404);
    await assert.rejects(ollama.show({ model: 'nothing/here' }), (err) => err.status_code === 404);
  });

  it('generate returns its context, and a context continues the exchange', async () => {
    const first = await ollama.generate({ model: 'test/a:F16', prompt: 'My name is Ada.', options: { num_predict: 5 } });
    assert.ok(Array.isArray(first.context));
    assert.equal(first.context.length, first.prompt_eval_count + first.eval_count, 'prompt and answer tokens');
    const next = await ollama.generate({ model: 'test/a:F16', prompt: 'And my name?', context: first.context,
      options: { num_predict: 3 } });
    assert.ok(next.prompt_eval_count > first.context.length, `${next.prompt_eval_count} vs ${first.context.length}`);
    assert.equal(next.context.slice(0, first.context.length).join(','), first.context.join(','));
    // A Jinja template for one request renders its prompt.
    const tmpl = '{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}';
    const own = await ollama.generate({ model: 'test/a:F16', prompt: 'hello there', template: tmpl, options: { num_predict: 1 } });
    const want = await (await postJSON(server.baseURL, '/tokenize', { model: 'test/a:F16', content: '[user] hello there\n' })).json();
    assert.equal(own.prompt_eval_count, want.tokens.length);
    const bad = [
      [{ prompt: 'x', template: '{% for m in messages %}' }, /template/],
      [{ prompt: 'x', context: ['a'] }, /context/],
      [{ prompt: 'x', context: [99999999] }, /outside the vocabulary/],
      [{ prompt: 'x', suffix: 'y' }, /fill-in-the-middle/],
      [{ prompt: 'x', template: '{{ .Prompt }}' }, /Go template/],
    ];
    for (const [extra, message] of bad) {
      const res = await postJSON(server.baseURL, '/api/generate', { model: 'test/a:F16', stream: false, ...extra });
      assert.equal(res.status, 400, JSON.stringify(extra));
      assert.match((await res.json()).error, message);
    }
  });

  it('a hostile template is refused at its bounds, and the server goes on', async () => {
    // Each would crash the server (stack overflow) or eat its memory without
    // the bounds on rendering (deps/patches/). Bounds on steps and time are
    // tested by llama.cpp's test-jinja (make test-llama-patches): reaching
    // them here takes the full time limit.
    const hostile = [
      ['a recursive macro', '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}', /nested statements/],
      ['a list that holds itself', '{% set x = [] %}{% set _ = x.append(x) %}{{ x }}', /nested values/],
      ['deep parentheses', `{{ ${'('.repeat(20000)}1${')'.repeat(20000)} }}`, /nested more than/],
      ['a huge repeated string', "{{ 'abc' * 10000000000 }}", /characters/],
      ['a huge range', '{% for i in range(10000000000) %}{% endfor %}', /range\(\)/],
    ];
    for (const [what, template, message] of hostile) {
      const started = Date.now();
      const res = await postJSON(server.baseURL, '/api/generate',
        { model: 'test/a:F16', prompt: 'x', template, stream: false, options: { num_predict: 1 } });
      const body = await res.json();
      assert.equal(res.status, 400, `${what}: ${JSON.stringify(body)}`);
      assert.match(body.error, message, what);
      console.log(`# ${what}: refused in ${Date.now() - started} ms`);
    }
    const after = await ollama.generate({ model: 'test/a:F16', prompt: 'still there?', options: { num_predict: 2 } });
    assert.equal(after.done, true);
  });
});
