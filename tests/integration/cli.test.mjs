// The command line: `kiln run` one-shot determinism and errors, exit codes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { makeTinyModel, removeDir, slow } from './harness.mjs';

/** Runs a binary; resolves {code, stdout, stderr} whatever the exit code. */
function run(bin, args, { input } = {}) {
  return new Promise((resolve) => {
    const child = execFile(bin, args, { timeout: slow(120_000), maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

describe('cli', { timeout: slow(300_000) }, () => {
  const kiln = process.env.KILN_BIN;
  const maker = process.env.KILN_MAKE_MODEL;
  let model;

  before(async () => {
    model = await makeTinyModel();
  }, { timeout: slow(120_000) });

  after(() => removeDir(model?.dir));

  it('kiln run with a fixed seed prints the same text twice', async () => {
    const args = ['run', model.path, 'Tell me a story', '--seed', '42', '-n', '24', '--ignore-eos'];
    const a = await run(kiln, args);
    const b = await run(kiln, args);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.ok(a.stdout.trim().length > 0, 'some text was printed');
    assert.equal(a.stdout, b.stdout);
    assert.doesNotMatch(a.stdout, /\x1b\[/, 'no escape codes when stdout is not a terminal');
  });

  it('kiln run reads the prompt from stdin', async () => {
    const fromArg = await run(kiln, ['run', model.path, 'Hello', '--seed', '3', '-n', '12']);
    const fromStdin = await run(kiln, ['run', model.path, '--seed', '3', '-n', '12'], { input: 'Hello' });
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    assert.equal(fromStdin.stdout, fromArg.stdout);
  });

  it('kiln run --verbose reports token counts on stderr', async () => {
    const r = await run(kiln, ['run', model.path, 'Hi', '-n', '5', '--ignore-eos', '--verbose']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /generated: 5 tokens, [\d.]+ tok\/s/);
  });

  it('kiln run stops at once on SIGINT (Ctrl-C)', async () => {
    const child = spawn(kiln, ['run', model.path, 'Tell me a long story', '-n', '100000', '--ignore-eos']);
    await new Promise((resolve) => child.stdout.once('data', resolve));  // generating
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    child.kill('SIGINT');
    const { code, signal } = await exited;
    assert.ok(signal === 'SIGINT' || code === 130, `exit code ${code}, signal ${signal}`);
  });

  it('kiln run on a missing file fails clearly', async () => {
    const r = await run(kiln, ['run', `${model.dir}/nope.gguf`, 'Hi']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not found/);
    assert.doesNotMatch(r.stderr, /terminate called|Segmentation/);
  });

  it('kiln run on a file that is not a model fails clearly', async () => {
    const r = await run(kiln, ['run', `${maker}`, 'Hi']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot load/);
  });

  it('usage errors exit 2; --version exits 0', async () => {
    assert.equal((await run(kiln, [])).code, 2);
    assert.equal((await run(kiln, ['frobnicate'])).code, 2);
    const v = await run(kiln, ['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /kiln \d+\.\d+\.\d+/);
  });

  it('kiln serve refuses bad settings before loading, naming where they came from', async () => {
    const badEnv = await new Promise((resolve) => {
      execFile(kiln, ['serve', '--model', model.path], { env: { ...process.env, KILN_PORT: 'abc' } },
        (err, stdout, stderr) => resolve({ code: err?.code ?? 0, stderr }));
    });
    assert.equal(badEnv.code, 2);
    assert.match(badEnv.stderr, /server\.port \(from KILN_PORT\) must be an integer/);

    const config = `${model.dir}/bad.toml`;
    await writeFile(config, '[server]\nprot = 1\n');
    const badFile = await run(kiln, ['serve', '--model', model.path, '--config', config]);
    assert.equal(badFile.code, 2);
    assert.match(badFile.stderr, /unknown setting 'server\.prot'/);
  });

  it('kiln-make-model refuses impossible shapes with a message', async () => {
    const r = await run(maker, ['--n-embd', '66', '--n-head', '4', '-o', `${model.dir}/bad.gguf`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /divisible by n_head/);
  });
});
