// Models made from Modelfiles: Ollama's /api/create through the official
// client (and its older `modelfile` form), kiln create on the command line,
// and what the made model then does: its system prompt and example turns go
// before every chat, its parameters are the defaults, and a running server
// picks up a preset made by the CLI without a restart.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Ollama } from 'ollama';
import { makeModel, startServer, tempDir, postJSON, getURL, slow } from './harness.mjs';

describe('create (Modelfiles)', { timeout: slow(300_000) }, () => {
  let server;
  let ollama;
  let home;
  const run = (...args) => new Promise((resolve) => {
    execFile(process.env.KILN_BIN, args, { timeout: slow(60_000), env: { ...process.env, KILN_HOME: home } },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });
  const promptOf = async (model, messages) =>
    (await (await postJSON(server.baseURL, '/apply-template', { model, messages })).json()).prompt;

  before(async () => {
    home = await tempDir('kiln-home-');
    const dir = path.join(home, 'models', 'test', 'base');
    await fs.mkdir(dir, { recursive: true });
    await makeModel(dir, ['--arch', 'llama', '--vocab', 'qwen2', '--n-embd', '64', '--n-layer', '2', '--n-head', '4',
      '--n-head-kv', '2', '--n-ff', '128', '--ctx', '1024', '--type', 'f16', '-o', 'base-F16.gguf']);
    server = await startServer({ home, args: ['--cache-ram', '0'] });
    ollama = new Ollama({ host: server.baseURL });
  }, { timeout: slow(180_000) });

  after(async () => {
    await server?.stop();
  });

  it('ollama.create makes a model with a system prompt, example turns and parameters', async () => {
    const progress = await ollama.create({ model: 'mario', from: 'test/base:F16', stream: true,
      system: 'You are Mario from Super Mario Bros.', parameters: { temperature: 0, num_predict: 7, stop: ['STOP'] },
      messages: [{ role: 'user', content: 'Who are you?' }, { role: 'assistant', content: 'It is me, Mario!' }] });
    const statuses = [];
    for await (const p of progress) statuses.push(p.status);
    assert.equal(statuses.at(-1), 'success');

    const { models } = await ollama.list();
    assert.ok(models.some((m) => m.name === 'mario'), 'listed in /api/tags');
    const v1 = await (await getURL(server.baseURL, '/v1/models')).json();
    assert.ok(v1.data.some((m) => m.id === 'mario'), 'and /v1/models');

    const prompt = await promptOf('mario', [{ role: 'user', content: 'Hi' }]);
    assert.match(prompt, /^<\|im_start\|>system\nYou are Mario from Super Mario Bros\.<\|im_end\|>\n<\|im_start\|>user\nWho are you\?<\|im_end\|>\n<\|im_start\|>assistant\nIt is me, Mario!<\|im_end\|>\n<\|im_start\|>user\nHi/);
    const own = await promptOf('mario', [{ role: 'system', content: 'Be Luigi.' }, { role: 'user', content: 'Hi' }]);
    assert.match(own, /^<\|im_start\|>system\nBe Luigi\./, "a chat's own system prompt wins");

    const r = await ollama.chat({ model: 'mario', messages: [{ role: 'user', content: 'Hi' }] });
    assert.equal(r.eval_count, 7, 'num_predict is the default limit');
    const again = await ollama.chat({ model: 'mario', messages: [{ role: 'user', content: 'Hi' }] });
    assert.equal(again.message.content, r.message.content, 'temperature 0: the same answer');
    const longer = await ollama.chat({ model: 'mario', messages: [{ role: 'user', content: 'Hi' }], options: { num_predict: 9 } });
    assert.equal(longer.eval_count, 9, "a request's own value wins");

    const show = await ollama.show({ model: 'mario' });
    assert.equal(show.system, 'You are Mario from Super Mario Bros.');
    assert.match(show.parameters, /temperature 0/);
    assert.match(show.parameters, /stop "STOP"/);
    assert.match(show.modelfile, /FROM test\/base:F16/);
    assert.match(show.modelfile, /MESSAGE assistant "It is me, Mario!"/);
    assert.equal(show.details.family, 'llama');

    // FROM a made model takes its settings too.
    await ollama.create({ model: 'mario-hot', from: 'mario', parameters: { temperature: 1.5 } });
    const hot = await ollama.show({ model: 'mario-hot' });
    assert.equal(hot.system, 'You are Mario from Super Mario Bros.');
    assert.match(hot.parameters, /temperature 1.5/);

    await ollama.delete({ model: 'mario-hot' });
    await assert.rejects(ollama.show({ model: 'mario-hot' }), (e) => e.status_code === 404);
    assert.ok((await ollama.list()).models.some((m) => m.name === 'test/base:F16'), 'the base model stays');
  });

  it('the older form: a Modelfile in the body', async () => {
    const res = await postJSON(server.baseURL, '/api/create', { name: 'peach', stream: false,
      modelfile: 'FROM test/base:F16\nPARAMETER num_ctx 512\nSYSTEM """You are\nPeach."""\n' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'success' });
    assert.match(await promptOf('peach', [{ role: 'user', content: 'x' }]), /^<\|im_start\|>system\nYou are\nPeach\./);
    const loaded = await ollama.chat({ model: 'peach', messages: [{ role: 'user', content: 'x' }], options: { num_predict: 1 } });
    assert.equal(loaded.done, true);
    const ps = await (await getURL(server.baseURL, '/api/ps')).json();
    assert.equal(ps.models.find((m) => m.name === 'peach').context_length, 512, 'num_ctx sets the context');
  });

  it('kiln create on the command line; the running server picks it up; kiln rm removes it', async () => {
    const file = path.join(home, 'Modelfile');
    await fs.writeFile(file, '# Yoshi\nFROM test/base:F16\nPARAMETER temperature 0.2\nPARAMETER num_predict 3\nSYSTEM You are Yoshi.\n');
    const made = await run('create', 'yoshi', '-f', file);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /created yoshi/);
    assert.match(await promptOf('yoshi', [{ role: 'user', content: 'x' }]), /^<\|im_start\|>system\nYou are Yoshi\./);
    const answer = await ollama.generate({ model: 'yoshi', prompt: 'Hello' });
    assert.equal(answer.eval_count, 3);
    const cli = await run('run', 'yoshi', 'Hello', '--verbose', '--local');
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stderr + cli.stdout, /generated: 3 tokens/);
    const list = await run('list');
    assert.match(list.stdout, /yoshi\s+\(from test\/base:F16\)/);
    const rm = await run('rm', 'yoshi');
    assert.equal(rm.code, 0, rm.stderr);
    await assert.rejects(ollama.show({ model: 'yoshi' }), (e) => e.status_code === 404);
  });

  it('bad Modelfiles and bodies are 400s (404 for an unknown FROM), and nothing is written', async () => {
    const before = await fs.readFile(path.join(home, 'presets.toml'), 'utf8');
    const cases = [
      [{ model: 'a', from: 'test/base:F16', template: '{{ .System }} {{ .Prompt }}' }, 400, /Go template/],
      [{ model: 'a', from: 'test/base:F16', parameters: { mirostat: 2 } }, 400, /mirostat/],
      [{ model: 'a', from: 'test/base:F16', parameters: { temperature: 9 } }, 400, /temperature/],
      [{ model: 'a', from: 'test/base:F16', quantize: 'q4_K_M' }, 400, /quantize/],
      [{ model: 'a', from: 'nope/none' }, 404, /not found/],
      [{ model: 'a b', from: 'test/base:F16' }, 400, /model name/],
      [{ model: 'a' }, 400, /from/],
      [{ model: 'a', modelfile: 'FROM test/base:F16\nBOGUS x\n' }, 400, /line 2/],
      [{ model: 'a', modelfile: 'FROM test/base:F16\nSYSTEM """never closed\n' }, 400, /not closed/],
      [{ model: 'test/base:F16', from: 'test/base:F16' }, 400, /itself/],
    ];
    for (const [body, status, message] of cases) {
      const res = await postJSON(server.baseURL, '/api/create', { stream: false, ...body });
      assert.equal(res.status, status, JSON.stringify(body));
      assert.match((await res.json()).error, message, JSON.stringify(body));
    }
    assert.equal(await fs.readFile(path.join(home, 'presets.toml'), 'utf8'), before, 'presets.toml untouched');
    const cli = await run('create', 'zz', '-f', path.join(home, 'missing'));
    assert.equal(cli.code, 2);
  });
});
