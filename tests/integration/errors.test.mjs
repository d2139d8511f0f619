// Error handling: status codes, the OpenAI error envelope, and the server surviving bad input.
import { describe, it, before, after } from 'node:test';
import fs from 'node:fs/promises';
import path from 'node:path';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { serveModel, openaiOptions, postJSON, getURL, startServer, tempDir, removeDir, slow } from './harness.mjs';

const CHAT = '/v1/chat/completions';

/** Asserts status, JSON content-type and the {error:{message,type,param,code}} envelope; returns error. */
async function expectError(res, status) {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = JSON.parse(text);
  assert.ok(body && typeof body.error === 'object' && body.error !== null, `error envelope: ${text}`);
  const { error } = body;
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0, 'error.message is non-empty');
  assert.equal(typeof error.type, 'string');
  assert.ok('param' in error, 'error.param present');
  assert.ok('code' in error, 'error.code present');
  return error;
}

describe('errors', { timeout: slow(300_000) }, () => {
  const ctx = serveModel({ args: ['--ctx-size', '128'] });
  // A valid chat body for the served model.
  const chat = () => ({ model: ctx.model.id, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4 });

  const post = (body) => postJSON(ctx.server.baseURL, CHAT, body);

  it('GET /health returns {status: "ok"}', async () => {
    const res = await getURL(ctx.server.baseURL, '/health');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal((await res.json()).status, 'ok');
  });

  it('request limits: each breach is a 400 that says the limit', async () => {
    const many = Array.from({ length: 17 }, (_, i) => `s${i}`);
    const cases = [
      [{ ...chat(), stop: many }, 'stop', /17 stop strings; the limit is 16/],
      [{ ...chat(), stop: ['x'.repeat(513)] }, 'stop', /1 to 512 bytes/],
      [{ ...chat(), stop: [''] }, 'stop', /1 to 512 bytes/],
      [{ ...chat(), messages: Array.from({ length: 4097 }, () => ({ role: 'user', content: 'x' })) }, 'messages', /4097 messages; the limit is 4096/],
      [{ ...chat(), max_tokens: 2000000 }, 'max_tokens', /between 0 and 1048576/],
      [{ ...chat(), logprobs: true, top_logprobs: 21 }, 'top_logprobs', /between 0 and 20/],
      [{ ...chat(), logit_bias: Object.fromEntries(Array.from({ length: 1025 }, (_, i) => [i, 1])) }, 'logit_bias', /more than 1024/],
      [{ ...chat(), tools: [{ type: 'function', function: { name: 'f' } }] }, 'tools', /does not support tools/],
    ];
    for (const [body, param, message] of cases) {
      const error = await expectError(await post(body), 400);
      assert.equal(error.param, param);
      assert.match(error.message, message);
    }
    const big = await post(JSON.stringify({ ...chat(), pad: 'x'.repeat(65 * 1024 * 1024) }));
    assert.equal(big.status, 413);
    assert.match((await big.json()).error.message, /larger than 64 MiB/);
  });

  it('malformed JSON -> 400 invalid_request_error', async () => {
    const error = await expectError(await post('{not json'), 400);
    assert.equal(error.type, 'invalid_request_error');
  });

  it('JSON array body -> 400', async () => {
    await expectError(await post('[]'), 400);
  });

  it('missing messages -> 400', async () => {
    await expectError(await post({ model: ctx.model.id, max_tokens: 4 }), 400);
  });

  it('messages not an array -> 400', async () => {
    await expectError(await post({ ...chat(), messages: 'Hello' }), 400);
  });

  it('message without role -> 400', async () => {
    await expectError(await post({ ...chat(), messages: [{ content: 'Hello' }] }), 400);
  });

  it('message with unknown role -> 400', async () => {
    await expectError(await post({ ...chat(), messages: [{ role: 'wizard', content: 'Hello' }] }), 400);
  });

  it('non-numeric max_tokens -> 400', async () => {
    await expectError(await post({ ...chat(), max_tokens: 'ten' }), 400);
  });

  it('non-numeric temperature -> 400', async () => {
    await expectError(await post({ ...chat(), temperature: 'hot' }), 400);
  });

  it('unknown model -> 404 model_not_found', async () => {
    const error = await expectError(await post({ ...chat(), model: 'no-such-model' }), 404);
    assert.equal(error.code, 'model_not_found');
  });

  it('prompt longer than the context -> 400 mentioning the context', async () => {
    const words = Array.from({ length: 2000 }, (_, i) => `word${i % 97}`).join(' ');
    const body = { ...chat(), messages: [{ role: 'user', content: words }] };
    const error = await expectError(await post(body), 400);
    assert.match(error.message, /context/i);
  });

  it('prompt longer than the context, streamed -> 400 before any SSE', async () => {
    const words = Array.from({ length: 2000 }, (_, i) => `word${i % 97}`).join(' ');
    const body = { ...chat(), stream: true, messages: [{ role: 'user', content: words }] };
    const error = await expectError(await post(body), 400);
    assert.match(error.message, /context/i);
  });

  it('unknown route -> 404 JSON error', async () => {
    await expectError(await getURL(ctx.server.baseURL, '/v1/nope'), 404);
  });

  it('openai client rejects a bad request with APIError status 400', async () => {
    const client = new OpenAI(openaiOptions(ctx.server.baseURL));
    await assert.rejects(
      client.chat.completions.create({ model: ctx.model.id, messages: [{ role: 'wizard', content: 'x' }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.APIError, `expected APIError, got ${err}`);
        assert.equal(err.status, 400);
        return true;
      });
  });

  it('server is still alive after all the bad requests', async () => {
    assert.ok(ctx.server.alive, `server exited:\n${ctx.server.stderr}`);
    const res = await getURL(ctx.server.baseURL, '/health');
    assert.equal(res.status, 200);
    assert.equal((await res.json()).status, 'ok');
    const ok = await postJSON(ctx.server.baseURL, CHAT, chat());
    assert.equal(ok.status, 200, 'a valid request still succeeds');
    assert.equal((await ok.json()).object, 'chat.completion');
  });
});

// Errors reach clients of every family; none may show where things are on
// the machine (absolute paths) or a stack trace, even when what failed is a
// file under a path or a runner that died printing one.
describe('error messages carry no paths or stack traces', { timeout: slow(300_000) }, () => {
  let dir;
  let server;

  before(async () => {
    dir = await tempDir('kiln-paths-');
    await fs.writeFile(path.join(dir, 'broken.gguf'), Buffer.from('GGUF\u0003\u0000\u0000\u0000not really a model'));
    const crash = "console.error(new Error('runner failed to start').stack); process.exit(3)";
    const config = path.join(dir, 'config.toml');
    await fs.writeFile(config, [
      '[models.missing]', `model = "${path.join(dir, 'missing.gguf')}"`,
      '[models.broken]', `model = "${path.join(dir, 'broken.gguf')}"`,
      '[models.crashy]', 'backend = "process"', `command = ["${process.execPath}", "-e", "${crash}"]`, '',
    ].join('\n'));
    server = await startServer({ args: ['--config', config] });
  }, { timeout: slow(120_000) });

  after(async () => {
    await server?.stop();
    await removeDir(dir);
  });

  it('in every family, for a missing file, a broken file and a runner that died', async () => {
    const routes = [
      ['/v1/chat/completions', (m) => ({ model: m, messages: [{ role: 'user', content: 'hi' }] })],
      ['/v1/completions', (m) => ({ model: m, prompt: 'hi' })],
      ['/v1/embeddings', (m) => ({ model: m, input: 'hi' })],
      ['/v1/responses', (m) => ({ model: m, input: 'hi' })],
      ['/v1/messages', (m) => ({ model: m, max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] })],
      ['/api/chat', (m) => ({ model: m, messages: [{ role: 'user', content: 'hi' }], stream: false })],
      ['/api/generate', (m) => ({ model: m, prompt: 'hi', stream: false })],
      ['/api/embed', (m) => ({ model: m, input: 'hi' })],
      ['/api/v0/chat/completions', (m) => ({ model: m, messages: [{ role: 'user', content: 'hi' }] })],
      ['/api/v1/chat', (m) => ({ model: m, input: 'hi' })],
      ['/api/v1/models/load', (m) => ({ model: m })],
    ];
    let checked = 0;
    for (const model of ['missing', 'broken', 'crashy']) {
      for (const [route, body] of routes) {
        const res = await postJSON(server.baseURL, route, body(model));
        const text = await res.text();
        if (res.status < 400) continue;  // e.g. a route a process backend does not take is 400 anyway
        checked += 1;
        assert.ok(!text.includes(dir), `${route} ${model}: ${text}`);
        assert.doesNotMatch(text, /(^|[\s"'(])\/(tmp|home|root|usr|var)\//, `${route} ${model}: ${text}`);
        assert.doesNotMatch(text, /\bat [\w.<>]+ \(|node:internal|\n\s+at /, `${route} ${model}: a stack trace: ${text}`);
      }
    }
    assert.ok(checked >= 25, `errors checked: ${checked}`);
  });
});
