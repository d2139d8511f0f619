// process and remote backends: llama-server (built from the same llama.cpp)
// and kiln itself as managed child processes, and another kiln as a remote
// upstream, all reached through one kiln with the official openai client.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import Anthropic from '@anthropic-ai/sdk';
import { makeModel, startServer, tempDir, removeDir, postJSON, getURL, openaiOptions, slow } from './harness.mjs';

const modelArgs = ['--arch', 'llama', '--vocab', 'llama-spm', '--n-embd', '128', '--n-layer', '2', '--n-head', '4',
  '--n-head-kv', '2', '--n-ff', '256', '--ctx', '1024', '--type', 'f16'];

/** Pids whose command line contains `needle` (the runners of one test home). */
function pidsWith(needle) {
  try {
    return execFileSync('pgrep', ['-f', needle], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number)
      .filter((pid) => pid !== process.pid);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

async function awaitCondition(check, what, timeoutMs = slow(20_000)) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function chatOnce(client, model) {
  const r = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5 });
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 5);
  return r;
}

async function chatStreamed(client, model) {
  const stream = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 6, stream: true,
  });
  let text = '';
  let finish;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.ok(text.length > 0, 'streamed text');
  assert.equal(finish, 'length');
}

describe('process and remote backends', { timeout: slow(300_000) }, () => {
  let home;
  let upstream; // a kiln the remote preset points at
  let upstreamModel;
  let server;
  let client;

  before(async () => {
    assert.ok(process.env.LLAMA_SERVER, 'LLAMA_SERVER must name llama-server (make test builds it)');
    home = await tempDir('kiln-home-');
    for (const [i, name] of ['a', 'b'].entries()) {
      const dir = path.join(home, 'models', 'test', name);
      await fs.mkdir(dir, { recursive: true });
      await makeModel(dir, [...modelArgs, '--seed', String(i + 1), '-o', `${name}-F16.gguf`]);
    }
    const upDir = await tempDir('kiln-model-');
    upstreamModel = { dir: upDir, path: await makeModel(upDir, [...modelArgs, '--seed', '9', '-o', 'up.gguf']) };
    upstream = await startServer({ model: upstreamModel.path, args: ['--cache-ram', '0'] });

    const config = path.join(home, 'config.toml');
    await fs.writeFile(config, `
[models.ls]
backend = "process"
command = ["${process.env.LLAMA_SERVER}", "--host", "127.0.0.1", "--port", "\${PORT}", "-m", "\${MODEL_PATH}", "-c", "1024", "-np", "2", "-t", "1"]
model = "test/b"
concurrency = 2

[models.child]
backend = "process"
command = "\${KILN_BIN} serve --host 127.0.0.1 --port \${PORT} --model \${MODEL_PATH} --cache-ram 0 --alias child -t 1"
model = "test/a"

[models.up]
backend = "remote"
url = "${upstream.baseURL}"
api_key = "secret"

[models.down]
backend = "remote"
url = "http://127.0.0.1:1"
`);
    server = await startServer({ home, args: ['--cache-ram', '0', '--max-models', '8'], env: { KILN_CONFIG: config } });
    client = new OpenAI(openaiOptions(server.baseURL));
  }, { timeout: slow(180_000) });

  after(async () => {
    await server?.stop();
    await upstream?.stop();
    await removeDir(upstreamModel?.dir);
  });

  it('llama-server as a process backend answers, whole and streamed', async () => {
    await chatOnce(client, 'ls');
    await chatStreamed(client, 'ls');
    const ps = (await (await getURL(server.baseURL, '/api/ps')).json()).models;
    assert.ok(ps.some((m) => m.name === 'ls'));
    const log = await fs.readFile(path.join(home, 'logs', 'ls.log'), 'utf8');
    assert.match(log, /llama|server/i, 'the runner\'s output is in its log');
  });

  it('Ollama, Anthropic and LM Studio clients reach process and remote backends too (bridged as OpenAI chats)', async () => {
    const ollama = new Ollama({ host: server.baseURL });
    const anthropic = new Anthropic({ baseURL: server.baseURL, apiKey: 'none', maxRetries: 0 });
    for (const model of ['ls', 'up']) {
      const r = await ollama.chat({ model, messages: [{ role: 'user', content: 'Hi' }], options: { num_predict: 4 } });
      assert.equal(r.done, true, model);
      assert.equal(r.eval_count, 4, `${model}: the upstream's usage comes through`);
      assert.ok(r.message.content.length > 0);
      let text = '';
      for await (const part of await ollama.chat({ model, messages: [{ role: 'user', content: 'Hi' }], stream: true,
        options: { num_predict: 5 } })) text += part.message.content;
      assert.ok(text.length > 0, `${model}: streamed through ollama`);
      const msg = await anthropic.messages.create({ model, max_tokens: 4, messages: [{ role: 'user', content: 'Hi' }] });
      assert.equal(msg.stop_reason, 'max_tokens');
      assert.equal(msg.usage.output_tokens, 4);
      const streamed = await anthropic.messages.stream({ model, max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] }).finalMessage();
      assert.equal(streamed.content[0].type, 'text');
    }
    const lms = await (await postJSON(server.baseURL, '/api/v1/chat', { model: 'up', input: 'Hi', max_output_tokens: 3 })).json();
    assert.equal(lms.stats.total_output_tokens, 3);
    const down = await postJSON(server.baseURL, '/api/chat', { model: 'down', stream: false, messages: [{ role: 'user', content: 'x' }] });
    assert.equal(down.status, 503);
    assert.match((await down.json()).error, /down|reach|connect/i);
  });

  it("LM Studio's OpenAI-shaped /api/v0 routes reach a runner at its OpenAI path", async () => {
    // llama-server has no /api/v0: the request goes to /v1/chat/completions, verbatim.
    const r = await postJSON(server.baseURL, '/api/v0/chat/completions',
      { model: 'ls', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3 });
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(body.usage.completion_tokens, 3);
    assert.equal(typeof body.choices[0].message.content, 'string');
  });

  it('kiln serve as a process backend answers, whole and streamed', async () => {
    const r = await chatOnce(client, 'child');
    assert.equal(r.model, 'child'); // the child's own answer, unchanged
    await chatStreamed(client, 'child');
  });

  it('killing the child mid-stream ends that request with an error; the next request restarts it', async () => {
    for (const model of ['ls', 'child']) {
      const modelPath = path.join(home, 'models', 'test', model === 'ls' ? 'b' : 'a');
      const [before] = pidsWith(modelPath);
      assert.ok(before, `${model} runs`);
      const stream = await client.chat.completions.create({
        model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 100000, stream: true,
        ignore_eos: true,
      });
      let chunks = 0;
      await assert.rejects(async () => {
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta?.content && ++chunks === 2) process.kill(before, 'SIGKILL');
        }
      }, (err) => {
        assert.match(String(err.message), /runner failed/);
        return true;
      });
      assert.ok(chunks >= 2);
      await chatOnce(client, model);
      const [after] = pidsWith(modelPath);
      assert.ok(after && after !== before, `${model} restarted (${before} -> ${after})`);
      assert.match(server.stderr, new RegExp(`${model}: runner \\(pid ${before}\\) was killed by signal 9`));
    }
  });

  it('a remote upstream answers through kiln; one that is down is a clear 503', async () => {
    const r = await chatOnce(client, 'up');
    assert.equal(r.model, path.basename(upstreamModel.path, '.gguf'));
    await chatStreamed(client, 'up');
    const res = await postJSON(server.baseURL, '/v1/chat/completions',
      { model: 'down', messages: [{ role: 'user', content: 'Hi' }] });
    assert.equal(res.status, 503);
    assert.ok(res.headers.get('retry-after'));
    const body = await res.json();
    assert.match(body.error.message, /model 'down': the upstream does not answer \/v1\/models at http:\/\/127\.0\.0\.1:1/);
  });

  it('unloading a process backend stops its runner', async () => {
    const modelPath = path.join(home, 'models', 'test', 'b');
    await chatOnce(client, 'ls');
    assert.ok(pidsWith(modelPath).length > 0);
    const res = await postJSON(server.baseURL, '/api/v1/models/unload', { instance_id: 'ls' });
    assert.equal(res.status, 200);
    await awaitCondition(() => pidsWith(modelPath).length === 0, 'llama-server to exit');
    assert.match(server.stderr, /ls: runner stopped/);
  });

  it('SIGTERM with a forwarded stream running ends it, stops the runners and exits 0', async () => {
    const modelPath = path.join(home, 'models', 'test', 'a');
    const stream = await client.chat.completions.create({
      model: 'child', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 100000, stream: true, ignore_eos: true,
    });
    const reading = (async () => {
      let n = 0;
      try {
        for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) n++;
      } catch {
        // the stream may end with an error event or a closed connection
      }
      return n;
    })();
    await awaitCondition(() => pidsWith(modelPath).length > 0, 'the child to run');
    const { code } = await server.stop('SIGTERM');
    assert.equal(code, 0, server.stderr);
    assert.ok((await reading) >= 0);
    assert.equal(pidsWith(modelPath).length, 0, 'no runner left behind');
  });
});
