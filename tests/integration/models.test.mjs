// The local catalog from the command line: list, show, cp, import, rm,
// verify, and reconciliation with files added or deleted by hand.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { getURL, makeTinyModel, removeDir, startServer, tempDir, slow } from './harness.mjs';

describe('models', { timeout: slow(300_000) }, () => {
  const kiln = process.env.KILN_BIN;
  let model;
  let home;
  let outside;

  /** Runs kiln with this KILN_HOME; resolves {code, stdout, stderr}. */
  function run(...args) {
    return new Promise((resolve) => {
      execFile(kiln, args, { timeout: slow(60_000), env: { ...process.env, KILN_HOME: home } }, (err, stdout, stderr) => {
        resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
      });
    });
  }
  async function names() {
    const r = await run('list', '--json');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).map((m) => m.name);
  }

  before(async () => {
    model = await makeTinyModel();
    home = await tempDir('kiln-home-');
    outside = await tempDir('kiln-outside-');
  }, { timeout: slow(120_000) });

  after(async () => {
    await removeDir(model?.dir);
    await removeDir(home);
    await removeDir(outside);
  });

  it('starts empty and says how to get a model', async () => {
    const r = await run('list');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no models yet.*kiln pull/);
    assert.deepEqual(await names(), []);
  });

  it('lists a GGUF dropped into models/ under its org/repo:QUANT name', async () => {
    const dir = path.join(home, 'models', 'org', 'Tiny-GGUF');
    await fs.mkdir(dir, { recursive: true });
    await fs.copyFile(model.path, path.join(dir, 'tiny-Q8_0.gguf'));
    assert.deepEqual(await names(), ['org/Tiny-GGUF:Q8_0']);
    const table = await run('list');
    assert.match(table.stdout, /^NAME\s+SIZE\s+QUANT\s+ARCH\s+PARAMS\s+MODIFIED$/m);
    assert.match(table.stdout, /org\/Tiny-GGUF:Q8_0\s+[\d.]+ [KM]B\s+F16\s+llama\s+[\d.]+M\s+just now/);
    assert.doesNotMatch(table.stdout, /\x1b\[/, 'plain text when piped');
  });

  it('shows metadata by a short name, as text and JSON', async () => {
    const text = await run('show', 'Tiny-GGUF');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /architecture\s+llama/);
    assert.match(text.stdout, /context length\s+512/);
    assert.match(text.stdout, /capabilities\s+completion/);
    const json = JSON.parse((await run('show', 'org/tiny-gguf:q8_0', '--json')).stdout);
    assert.equal(json.name, 'org/Tiny-GGUF:Q8_0');
    assert.equal(json.architecture, 'llama');
    assert.equal(json.context_length, 512);
    assert.ok(json.parameters > 0);
    assert.match(json.chat_template, /im_start/);
    const tmpl = await run('show', 'Tiny-GGUF', '--template');
    assert.match(tmpl.stdout, /im_start/);
  });

  it('cp gives a model a second name', async () => {
    const r = await run('cp', 'org/Tiny-GGUF:Q8_0', 'tiny');
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse((await run('show', 'tiny', '--json')).stdout);
    assert.equal(json.name, 'org/Tiny-GGUF:Q8_0');
    assert.deepEqual(json.aliases, ['tiny']);
  });

  it('run and serve take catalog names', async () => {
    const r = await run('run', 'tiny', 'Hi', '-n', '3', '--ignore-eos', '--local');  // not a server that may run here
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.trim().length > 0);
    const server = await startServer({ model: 'Tiny-GGUF:q8_0', env: { KILN_HOME: home } });
    try {
      const models = await (await getURL(server.baseURL, '/v1/models')).json();
      assert.deepEqual(models.data.map((m) => m.id), ['org/Tiny-GGUF:Q8_0']);
      // kiln run goes through the server that answers at the configured address.
      const generated = async () => Number((await (await getURL(server.baseURL, '/metrics')).text())
        .match(/^kiln_generated_tokens_total\{[^}]*\} (\d+)/m)?.[1] ?? 0);
      const before = await generated();
      const port = new URL(server.baseURL).port;
      const through = await new Promise((resolve) => {
        execFile(kiln, ['run', 'tiny', 'Hi', '-n', '4', '--ignore-eos'], { timeout: slow(60_000),
          env: { ...process.env, KILN_HOME: home, KILN_PORT: port } }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }));
      });
      assert.equal(through.code, 0, through.stderr);
      assert.equal(await generated(), before + 4, 'the answer came from the running server');
    } finally {
      await server.stop();
    }
    const missing = await run('run', 'no-such-model', 'Hi', '--local');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /model 'no-such-model' not found/);
  });

  it('an unknown name fails with close suggestions', async () => {
    const r = await run('show', 'org/Tiny-GUF:Q8_0');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not found; did you mean org\/Tiny-GGUF:Q8_0\?/);
    assert.doesNotMatch(r.stderr, new RegExp(home), 'no absolute paths in errors');
  });

  it('import registers a file where it is, and rm leaves it there', async () => {
    const file = path.join(outside, 'mine.gguf');
    await fs.copyFile(model.path, file);
    const r = await run('import', file, '--name', 'mine');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /imported mine \(llama/);
    assert.deepEqual(await names(), ['mine', 'org/Tiny-GGUF:Q8_0']);
    const again = await run('import', file);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already in the catalog as mine/);
    const notGguf = path.join(outside, 'notes.gguf');
    await fs.writeFile(notGguf, 'not a model');
    const bad = await run('import', notGguf);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a GGUF file/);
    assert.equal((await run('rm', 'mine')).code, 0);
    await fs.access(file);  // still there
    assert.deepEqual(await names(), ['org/Tiny-GGUF:Q8_0']);
  });

  it('list names a truncated GGUF in models/ on stderr, once per change, and never lists it', async () => {
    const torn = path.join(home, 'models', 'torn-Q8_0.gguf');
    const whole = await fs.readFile(model.path);
    await fs.writeFile(torn, whole.subarray(0, 100));
    try {
      for (let i = 0; i < 2; i++) {
        const r = await run('list');
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stdout, /torn/);
        assert.match(r.stderr, /not listed: torn-Q8_0\.gguf: torn-Q8_0\.gguf has a truncated or corrupt GGUF header/);
        // Parsed once: the second list answers from the catalog without
        // llama.cpp's loader complaining again.
        if (i === 1) assert.doesNotMatch(r.stderr, /gguf_init/);
      }
    } finally {
      await fs.rm(torn);
    }
  });

  it('verify skips files it has no recorded hash for', async () => {
    const r = await run('verify');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no recorded sha256/);
  });

  it('a file deleted by hand disappears; rm deletes files and empty folders', async () => {
    const dir = path.join(home, 'models', 'org', 'Other-GGUF');
    await fs.mkdir(dir, { recursive: true });
    await fs.copyFile(model.path, path.join(dir, 'other-Q4_0.gguf'));
    assert.deepEqual(await names(), ['org/Other-GGUF:Q4_0', 'org/Tiny-GGUF:Q8_0']);
    await fs.rm(path.join(dir, 'other-Q4_0.gguf'));
    assert.deepEqual(await names(), ['org/Tiny-GGUF:Q8_0']);
    const name = await run('rm', 'tiny');  // a second name goes alone
    assert.equal(name.code, 0, name.stderr);
    assert.match(name.stdout, /removed the name tiny; the model stays as org\/Tiny-GGUF:Q8_0/);
    assert.deepEqual(await names(), ['org/Tiny-GGUF:Q8_0']);
    const r = await run('rm', 'org/Tiny-GGUF:Q8_0');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /deleted org\/Tiny-GGUF:Q8_0/);
    await assert.rejects(fs.access(path.join(home, 'models', 'org', 'Tiny-GGUF')));
    assert.deepEqual(await names(), []);
    const gone = await run('rm', 'org/Tiny-GGUF:Q8_0');
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /not found/);
  });
});

// Open WebUI and other clients call /api/show (and the other families' info
// routes) for each model a list route shows: a --model path's name, a
// config preset and a catalog model alike, by each name form.
describe('every listed model answers every info route', { timeout: slow(300_000) }, () => {
  let fixed;
  let home;
  let server;

  before(async () => {
    fixed = await makeTinyModel();
    home = await tempDir('kiln-home-');
    const dir = path.join(home, 'models', 'org', 'Cat-GGUF');
    await fs.mkdir(dir, { recursive: true });
    await fs.copyFile(fixed.path, path.join(dir, 'cat-Q8_0.gguf'));
    const config = path.join(home, 'config.toml');
    await fs.writeFile(config, `[models.preset]\nmodel = "org/Cat-GGUF:Q8_0"\nctx_size = 256\n`);
    server = await startServer({ home, model: fixed.path, args: ['--config', config] });
  }, { timeout: slow(120_000) });

  after(async () => {
    await server?.stop();
    await removeDir(fixed?.dir);
  });

  it('/api/show, /v1/models/{id}, /api/v0/models/{id} and /props answer each listed name, with and without :latest', async () => {
    const tags = (await (await getURL(server.baseURL, '/api/tags')).json()).models.map((m) => m.name);
    const v1 = (await (await getURL(server.baseURL, '/v1/models')).json()).data.map((m) => m.id);
    const v0 = (await (await getURL(server.baseURL, '/api/v0/models')).json()).data.map((m) => m.id);
    const all = [...new Set([...tags, ...v1, ...v0])];
    for (const want of ['tiny', 'preset', 'org/Cat-GGUF:Q8_0']) assert.ok(all.includes(want), `${want} in ${all}`);
    for (const id of all) {
      const forms = id.includes(':') ? [id] : [id, `${id}:latest`, id.toUpperCase()];
      for (const name of forms) {
        const show = await fetch(`${server.baseURL}/api/show`, { method: 'POST', body: JSON.stringify({ model: name }) });
        assert.equal(show.status, 200, `/api/show ${name}: ${await show.clone().text()}`);
        const s = await show.json();
        assert.equal(s.details.format, 'gguf');
        assert.equal(s.model_info['general.architecture'], 'llama', name);
        assert.ok(s.capabilities.includes('completion'), name);
        for (const route of [`/v1/models/${name}`, `/api/v0/models/${name}`, `/props?model=${encodeURIComponent(name)}`]) {
          const r = await getURL(server.baseURL, route);
          assert.equal(r.status, 200, `${route}: ${await r.text()}`);
        }
      }
    }
    const missing = await fetch(`${server.baseURL}/api/show`, { method: 'POST', body: JSON.stringify({ model: 'nope' }) });
    assert.equal(missing.status, 404);
  });
});
