// Who may use the server: API keys (Bearer and x-api-key, every route but
// /health and GET /), the Host check against DNS rebinding, browser origins
// (CORS), and no open non-loopback listener by accident.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFile } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { makeTinyModel, startServer, removeDir, tempDir, openaiOptions, REQUEST_TIMEOUT_MS, slow } from './harness.mjs';

/** A raw request with headers fetch would not let us set (Host). */
function raw(baseURL, { method = 'GET', path: route = '/', headers = {}, body } = {}) {
  const url = new URL(baseURL);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path: route, headers }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    if (body) req.end(body); else req.end();
  });
}

const hasCurl = spawnSync('curl', ['--version']).status === 0;

describe('access', { timeout: slow(300_000) }, () => {
  let model;
  let open;   // no keys
  let keyed;  // --api-key k1 and a keys file with k2
  let keysDir;

  before(async () => {
    model = await makeTinyModel();
    keysDir = await tempDir('kiln-keys-');
    const keysFile = path.join(keysDir, 'keys.txt');
    await fs.writeFile(keysFile, '# team keys\nk2  # build bot\n\n');
    open = await startServer({ model: model.path, args: ['--allowed-hosts', 'my.box', '--cors-origins', 'https://app.example'] });
    keyed = await startServer({ model: model.path, args: ['--api-key', 'k1', '--api-keys-file', keysFile] });
  }, { timeout: slow(180_000) });

  after(async () => {
    await open?.stop();
    await keyed?.stop();
    await removeDir(model?.dir);
    await removeDir(keysDir);
  });

  it('a Host that is not a loopback name or an allowed host gets 403 (DNS rebinding)', async () => {
    const port = new URL(open.baseURL).port;
    for (const host of ['evil.example', `evil.example:${port}`, '10.0.0.1', 'localhost.evil.example']) {
      const r = await raw(open.baseURL, { path: '/v1/models', headers: { Host: host } });
      assert.equal(r.status, 403, host);
      assert.equal(JSON.parse(r.body).error.type, 'permission_error');
      const o = await raw(open.baseURL, { path: '/api/tags', headers: { Host: host } });
      assert.equal(o.status, 403);
      assert.match(JSON.parse(o.body).error, /not served here/);
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'my.box', 'MY.BOX:8080', 'app.localhost']) {
      const r = await raw(open.baseURL, { path: '/v1/models', headers: { Host: host } });
      assert.equal(r.status, 200, host);
    }
  });

  it('curl with Host: evil.example gets 403', { skip: !hasCurl && 'curl not installed' }, () => {
    const r = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: evil.example',
      `${open.baseURL}/v1/models`], { encoding: 'utf8' });
    assert.equal(r.stdout, '403');
  });

  it('browser origins: loopback and allowed ones get CORS headers and preflights, others 403', async () => {
    const pre = await raw(open.baseURL, {
      method: 'OPTIONS', path: '/v1/chat/completions',
      headers: { Origin: 'http://localhost:3000', 'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type, authorization' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], 'http://localhost:3000');
    assert.match(pre.headers['access-control-allow-methods'], /POST/);
    assert.equal(pre.headers['access-control-allow-headers'], 'content-type, authorization');
    assert.equal(pre.headers['access-control-allow-credentials'], undefined);
    const get = await raw(open.baseURL, { path: '/v1/models', headers: { Origin: 'https://app.example' } });
    assert.equal(get.status, 200);
    assert.equal(get.headers['access-control-allow-origin'], 'https://app.example');
    assert.match(get.headers.vary, /Origin/);
    for (const origin of ['https://evil.example', 'http://localhost.evil.example', 'null']) {
      const bad = await raw(open.baseURL, { method: 'POST', path: '/api/pull', headers: { Origin: origin, 'Content-Type': 'text/plain' },
        body: '{"model":"org/repo"}' });
      assert.equal(bad.status, 403, origin);
      assert.equal(bad.headers['access-control-allow-origin'], undefined);
    }
  });

  it('with keys set, no route but /health and GET / answers without one, in each family\'s envelope', async () => {
    assert.equal((await raw(keyed.baseURL, { path: '/health' })).status, 200);
    assert.equal((await raw(keyed.baseURL, { path: '/' })).status, 200);
    const routes = [['GET', '/v1/models'], ['POST', '/v1/chat/completions'], ['GET', '/api/tags'], ['GET', '/api/ps'],
      ['POST', '/api/chat'], ['GET', '/slots'], ['GET', '/metrics'], ['POST', '/api/v1/models/load'], ['POST', '/v1/messages'],
      ['GET', '/no/such/route']];
    for (const [method, route] of routes) {
      const r = await raw(keyed.baseURL, { method, path: route, headers: { 'Content-Type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
      assert.equal(r.status, 401, `${method} ${route}`);
      assert.equal(r.headers['www-authenticate'], 'Bearer');
      const body = JSON.parse(r.body);
      if (route.startsWith('/api/') && !route.startsWith('/api/v1/')) assert.match(body.error, /API key is required/);
      else if (route === '/v1/messages') assert.equal(body.error.type, 'authentication_error');
      else assert.equal(body.error.code, 'invalid_api_key');
    }
    const wrong = await raw(keyed.baseURL, { path: '/v1/models', headers: { Authorization: 'Bearer k3' } });
    assert.equal(wrong.status, 401);
    assert.match(JSON.parse(wrong.body).error.message, /not valid/);
    const prefix = await raw(keyed.baseURL, { path: '/v1/models', headers: { Authorization: 'Bearer k' } });
    assert.equal(prefix.status, 401);
  });

  it('the official clients get in with a key: Bearer (openai), x-api-key and a file\'s key (ollama)', async () => {
    const withKey = new OpenAI({ ...openaiOptions(keyed.baseURL), apiKey: 'k1' });
    const list = await withKey.models.list();
    assert.ok(list.data.length >= 1);
    const reply = await withKey.chat.completions.create({ model: model.id, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    assert.equal(reply.usage.completion_tokens, 2);
    const without = new OpenAI({ ...openaiOptions(keyed.baseURL), apiKey: 'nope' });
    await assert.rejects(without.models.list(), (err) => err.status === 401);
    const ollama = new Ollama({ host: keyed.baseURL, headers: { 'x-api-key': 'k2' } });
    assert.ok((await ollama.list()).models.length >= 1);
  });

  it('kiln ps sends server.api_key', async () => {
    const port = new URL(keyed.baseURL).port;
    const run = (env) => new Promise((resolve) => {
      execFile(process.env.KILN_BIN, ['ps'], { env: { ...process.env, KILN_PORT: port, ...env } },
        (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
    });
    const ok = await run({ KILN_API_KEY: 'k2' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(model.id));
    const no = await run({ KILN_API_KEY: '' });
    assert.equal(no.code, 1);
    assert.match(no.stderr, /API key is required/);
  });

  it('a non-loopback address without a key is refused at start, unless --insecure', async () => {
    const bin = process.env.KILN_BIN;
    const r = spawnSync(bin, ['serve', '--host', '0.0.0.0', '--port', '0', '--model', model.path], { encoding: 'utf8', timeout: slow(60_000) });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0 without an API key.*--insecure/s);
    const anyway = await startServer({ model: model.path, host: '0.0.0.0', args: ['--insecure'] });
    try {
      assert.match(anyway.stdout, /listening on http:\/\/0\.0\.0\.0:\d+/);
      // Not a loopback bind: no Host check (the operator chose to expose it).
      const port = new URL(anyway.baseURL).port;
      const res = await raw(`http://127.0.0.1:${port}`, { path: '/v1/models', headers: { Host: 'box.lan' } });
      assert.equal(res.status, 200);
    } finally {
      await anyway.stop();
    }
  });

  it('a rate limit per key: 429 with Retry-After past it, each key its own', async () => {
    const limited = await startServer({ model: model.path, args: ['--api-key', 'k1,k2', '--rate-limit', '3'] });
    try {
      const get = (key, route = '/v1/models') => raw(limited.baseURL, { path: route, headers: { Authorization: `Bearer ${key}` } });
      for (let i = 0; i < 3; i++) assert.equal((await get('k1')).status, 200);
      const over = await get('k1');
      assert.equal(over.status, 429);
      assert.ok(Number(over.headers['retry-after']) >= 1);
      const body = JSON.parse(over.body);
      assert.equal(body.error.code, 'rate_limit_exceeded');
      assert.match(body.error.message, /more than 3 requests a minute/);
      const ollama = await get('k1', '/api/tags');
      assert.equal(ollama.status, 429);
      assert.match(JSON.parse(ollama.body).error, /more than 3 requests/);
      assert.equal((await get('k2')).status, 200, 'another key has its own budget');
      for (let i = 0; i < 5; i++) assert.equal((await raw(limited.baseURL, { path: '/health' })).status, 200);
    } finally {
      await limited.stop();
    }
  });

  it('a token limit per key: answers are charged, a key in debt waits, another key goes on', async () => {
    const limited = await startServer({ model: model.path, args: ['--api-key', 'k1,k2', '--token-limit', '60'] });
    try {
      const chat = (key, extra = {}) => fetch(`${limited.baseURL}/v1/chat/completions`, {
        method: 'POST', headers: { Authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 40, ignore_eos: true, ...extra }),
      });
      const first = await chat('k1');
      assert.equal(first.status, 200);
      const used = (await first.json()).usage.total_tokens;
      assert.ok(used >= 40, `${used} tokens`);
      const streamed = await chat('k1', { stream: true });  // still in budget: 60 - ~50 > 0
      assert.equal(streamed.status, 200);
      await streamed.text();  // its tokens are charged when it ends
      const over = await chat('k1');
      assert.equal(over.status, 429);
      assert.ok(Number(over.headers.get('retry-after')) >= 1);
      assert.match((await over.json()).error.message, /more than 60 tokens a minute/);
      assert.equal((await chat('k2')).status, 200, 'another key has its own budget');
      const models = await fetch(`${limited.baseURL}/v1/models`, { headers: { Authorization: 'Bearer k1' } });
      assert.equal(models.status, 200, 'reads cost no tokens');
    } finally {
      await limited.stop();
    }
  });
});
