// kiln pull and kiln search against a local server that speaks the Hugging
// Face API (hf_server.mjs) and injects faults: dropped connections, kills,
// wrong bytes, gated repos, 429/500, servers that ignore Range, redirects to
// another host, hostile file names.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { makeModel, postJSON, removeDir, startServer, tempDir, slow } from './harness.mjs';
import { startHfServer, sha256 } from './hf_server.mjs';
import { Ollama } from 'ollama';

const modelArgs = (type, out) => ['--arch', 'llama', '--vocab', 'llama-spm', '--n-embd', '64', '--n-layer', '2',
  '--n-head', '4', '--n-head-kv', '2', '--n-ff', '128', '--ctx', '512', '--seed', '7', '--type', type, '-o', out];

describe('pull', { timeout: slow(600_000) }, () => {
  const kiln = process.env.KILN_BIN;
  let hf;
  let dir;
  let q8;
  let q4;
  const homes = [];

  async function freshHome() {
    const h = await tempDir('kiln-home-');
    homes.push(h);
    return h;
  }
  function run(home, args, env = {}) {
    return new Promise((resolve) => {
      execFile(kiln, args, { timeout: slow(120_000), env: { ...process.env, KILN_HOME: home, HF_ENDPOINT: hf.url, ...env } },
        (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
    });
  }
  async function listed(home) {
    const r = await run(home, ['list', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  }
  const modelFile = (home, name) => path.join(home, 'models', 'org', 'Tiny-GGUF', name);
  const exists = (p) => fs.access(p).then(() => true, () => false);
  const requestsFor = (name) => hf.requests.filter((r) => r.path.endsWith('/resolve/main/' + name));

  before(async () => {
    dir = await tempDir('kiln-hf-');
    q8 = await fs.readFile(await makeModel(dir, modelArgs('q8_0', 'tiny-Q8_0.gguf')));
    q4 = await fs.readFile(await makeModel(dir, modelArgs('q4_0', 'tiny-Q4_0.gguf')));
    hf = await startHfServer();
    hf.addRepo('org/Tiny-GGUF', { 'tiny-Q8_0.gguf': q8, 'tiny-Q4_0.gguf': q4, 'README.md': Buffer.from('# tiny') },
      { downloads: 50, likes: 3 });
  }, { timeout: slow(180_000) });

  after(async () => {
    await hf?.close();
    await removeDir(dir);
    await Promise.all(homes.map(removeDir));
  });

  it('pulls the default quantization, verified, and lists it', async () => {
    const home = await freshHome();
    const r = await run(home, ['pull', 'hf.co/org/Tiny-GGUF']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /taking Q4_0/);
    assert.match(r.stdout, /tiny-Q4_0\.gguf: verified sha256/);
    assert.match(r.stdout, /pulled org\/Tiny-GGUF:Q4_0/);
    assert.doesNotMatch(r.stdout, /\x1b\[/, 'no escape codes when piped');
    assert.deepEqual(await fs.readFile(modelFile(home, 'tiny-Q4_0.gguf')), q4);
    const [m] = await listed(home);
    assert.equal(m.name, 'org/Tiny-GGUF:Q4_0');
    assert.equal(m.source, 'hf.co/org/Tiny-GGUF');
    assert.equal(m.files[0].sha256, sha256(q4));
    assert.equal(m.architecture, 'llama');
    const again = await run(home, ['pull', 'org/Tiny-GGUF:Q4_0']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /up to date/);
  });

  it('pulls a named quantization; an unknown one says what the repo has', async () => {
    const home = await freshHome();
    const r = await run(home, ['pull', 'org/Tiny-GGUF:q8_0']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await fs.readFile(modelFile(home, 'tiny-Q8_0.gguf')), q8);
    const missing = await run(home, ['pull', 'org/Tiny-GGUF:Q6_K']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no Q6_K file \(it has: .*Q4_0.*Q8_0/);
    const noRepo = await run(home, ['pull', 'org/Nope-GGUF']);
    assert.equal(noRepo.code, 1);
    assert.match(noRepo.stderr, /not found, or private: set HF_TOKEN/);
  });

  it('a split model comes with all its parts, and a vision repo with its projector', async () => {
    const home = await freshHome();
    // Part 1 is a readable GGUF (what the catalog reads); part 2 is bytes.
    const part2 = Buffer.alloc(4096, 7);
    hf.addRepo('org/Split-GGUF', {
      'Q4_K_M/split-Q4_K_M-00001-of-00002.gguf': q4,
      'Q4_K_M/split-Q4_K_M-00002-of-00002.gguf': part2,
      'split-Q8_0.gguf': q8,
      'mmproj-split-f32.gguf': q8,
      'mmproj-split-f16.gguf': q4,
    });
    const r = await run(home, ['pull', 'org/Split-GGUF']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /taking Q4_K_M/);
    for (const f of ['split-Q4_K_M-00001-of-00002.gguf', 'split-Q4_K_M-00002-of-00002.gguf', 'mmproj-split-f16.gguf']) {
      assert.match(r.stdout, new RegExp(`${f.replace(/[.]/g, '\\.')}: verified sha256`));
    }
    assert.doesNotMatch(r.stdout, /split-Q8_0|mmproj-split-f32/);
    const [m] = await listed(home);
    assert.equal(m.name, 'org/Split-GGUF:Q4_K_M');
    assert.deepEqual(m.files.map((f) => [path.basename(f.path), f.kind, f.sha256]), [
      ['split-Q4_K_M-00001-of-00002.gguf', 'model', sha256(q4)],
      ['split-Q4_K_M-00002-of-00002.gguf', 'model', sha256(part2)],
      ['mmproj-split-f16.gguf', 'mmproj', sha256(q4)],
    ]);
    assert.ok(m.capabilities.includes('vision'));
    assert.equal(m.size, q4.length * 2 + part2.length);
  });

  it('resumes after the connection drops at 50%', async () => {
    const home = await freshHome();
    const half = Math.floor(q8.length / 2);
    hf.faults.set('tiny-Q8_0.gguf', { dropAfter: half, dropTimes: 1 });
    const before = requestsFor('tiny-Q8_0.gguf').length;
    const r = await run(home, ['pull', 'org/Tiny-GGUF:Q8_0']);
    hf.faults.delete('tiny-Q8_0.gguf');
    assert.equal(r.code, 0, r.stderr);
    const reqs = requestsFor('tiny-Q8_0.gguf').slice(before);
    assert.equal(reqs.length, 2);
    assert.equal(reqs[0].range, null);
    assert.equal(reqs[1].range, `bytes=${half}-`);
    assert.equal(sha256(await fs.readFile(modelFile(home, 'tiny-Q8_0.gguf'))), sha256(q8));
    assert.equal(await exists(modelFile(home, 'tiny-Q8_0.gguf.partial')), false);
  });

  it('a server that ignores Range restarts the file from zero', async () => {
    const home = await freshHome();
    hf.faults.set('tiny-Q8_0.gguf', { dropAfter: 1000, dropTimes: 1, ignoreRange: true });
    const r = await run(home, ['pull', 'org/Tiny-GGUF:Q8_0']);
    hf.faults.delete('tiny-Q8_0.gguf');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(await fs.readFile(modelFile(home, 'tiny-Q8_0.gguf'))), sha256(q8));
  });

  async function startSlowPull(home) {
    hf.faults.set('tiny-Q8_0.gguf', { throttle: 16 * 1024 });
    const child = spawn(kiln, ['pull', 'org/Tiny-GGUF:Q8_0'],
      { env: { ...process.env, KILN_HOME: home, HF_ENDPOINT: hf.url }, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const partial = modelFile(home, 'tiny-Q8_0.gguf.partial');
    const deadline = Date.now() + slow(60_000);
    for (;;) {
      const st = await fs.stat(partial).catch(() => null);
      if (st && st.size > 64 * 1024) break;
      assert.ok(Date.now() < deadline, 'the download never started');
      await new Promise((r) => setTimeout(r, 20));
    }
    return { child, exited, partial };
  }

  it('resumes after kill -9; nothing has the final name before it is verified', async () => {
    const home = await freshHome();
    const { child, exited, partial } = await startSlowPull(home);
    assert.equal(await exists(modelFile(home, 'tiny-Q8_0.gguf')), false);
    child.kill('SIGKILL');
    await exited;
    hf.faults.delete('tiny-Q8_0.gguf');
    const kept = (await fs.stat(partial)).size;
    assert.ok(kept > 0 && kept < q8.length);
    assert.deepEqual(await listed(home), [], 'a partial download is never listed');
    const before = requestsFor('tiny-Q8_0.gguf').length;
    const r = await run(home, ['pull', 'org/Tiny-GGUF:Q8_0']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(requestsFor('tiny-Q8_0.gguf')[before].range ?? '', /^bytes=\d+-$/);
    assert.equal(sha256(await fs.readFile(modelFile(home, 'tiny-Q8_0.gguf'))), sha256(q8));
  });

  it('SIGTERM during a server-side pull: exits 0 at once, nothing listed, and the next pull resumes', async () => {
    const home = await freshHome();
    hf.faults.set('tiny-Q8_0.gguf', { throttle: 16 * 1024 });
    const server = await startServer({ home, env: { HF_ENDPOINT: hf.url } });
    const pulling = postJSON(server.baseURL, '/api/pull', { model: 'hf.co/org/Tiny-GGUF:Q8_0' })
      .then((r) => r.text()).catch((e) => e);
    const partial = modelFile(home, 'tiny-Q8_0.gguf.partial');
    const deadline = Date.now() + slow(60_000);
    while (!((await fs.stat(partial).catch(() => null))?.size > 64 * 1024)) {
      assert.ok(Date.now() < deadline, 'the download never started');
      await new Promise((r) => setTimeout(r, 20));
    }
    const t0 = Date.now();
    server.proc.kill('SIGTERM');
    const { code } = await new Promise((resolve) => server.proc.once('close', (c, sig) => resolve({ code: c, sig })));
    assert.equal(code, 0, server.stderr);
    assert.ok(Date.now() - t0 < slow(10_000), `took ${Date.now() - t0} ms to exit`);
    await pulling;
    hf.faults.delete('tiny-Q8_0.gguf');
    const kept = (await fs.stat(partial)).size;
    assert.ok(kept > 0 && kept < q8.length, `partial ${kept} of ${q8.length}`);
    assert.equal(await exists(modelFile(home, 'tiny-Q8_0.gguf')), false);
    assert.deepEqual(await listed(home), [], 'no catalog row for a pull that did not finish');
    const before = requestsFor('tiny-Q8_0.gguf').length;
    const r = await run(home, ['pull', 'org/Tiny-GGUF:Q8_0']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(requestsFor('tiny-Q8_0.gguf')[before].range ?? '', /^bytes=\d+-$/, 'it resumed');
    assert.equal(sha256(await fs.readFile(modelFile(home, 'tiny-Q8_0.gguf'))), sha256(q8));
    assert.deepEqual((await listed(home)).map((m) => m.name), ['org/Tiny-GGUF:Q8_0']);
  });

  it('Ctrl-C stops at once and keeps a resumable partial file', async () => {
    const home = await freshHome();
    const { child, exited, partial } = await startSlowPull(home);
    child.kill('SIGINT');
    const { code } = await exited;
    hf.faults.delete('tiny-Q8_0.gguf');
    assert.equal(code, 130);
    assert.ok((await fs.stat(partial)).size > 0);
    assert.equal(await exists(modelFile(home, 'tiny-Q8_0.gguf')), false);
  });

  it('a corrupted download is deleted, never listed or loaded', async () => {
    const home = await freshHome();
    hf.faults.set('tiny-Q8_0.gguf', { corrupt: true });
    const r = await run(home, ['pull', 'org/Tiny-GGUF:Q8_0']);
    hf.faults.delete('tiny-Q8_0.gguf');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /tiny-Q8_0\.gguf is corrupt: sha256 [0-9a-f]{64}, Hugging Face says [0-9a-f]{64}/);
    assert.equal(await exists(modelFile(home, 'tiny-Q8_0.gguf')), false);
    assert.equal(await exists(modelFile(home, 'tiny-Q8_0.gguf.partial')), false);
    assert.deepEqual(await listed(home), []);
  });

  it('gated repos: 403 says what to do, and HF_TOKEN gets in', async () => {
    const home = await freshHome();
    hf.faults.set('tiny-Q4_0.gguf', { gated: 'hf_secret' });
    const denied = await run(home, ['pull', 'org/Tiny-GGUF:Q4_0']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /gated: accept its terms at https:\/\/huggingface.co\/org\/Tiny-GGUF and set HF_TOKEN/);
    const ok = await run(home, ['pull', 'org/Tiny-GGUF:Q4_0'], { HF_TOKEN: 'hf_secret' });
    hf.faults.delete('tiny-Q4_0.gguf');
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('retries 429 and 500 answers, within bounds', async () => {
    const home = await freshHome();
    hf.faults.set('tiny-Q4_0.gguf', { status: 429, statusTimes: 2 });
    const ok = await run(home, ['pull', 'org/Tiny-GGUF:Q4_0']);
    assert.equal(ok.code, 0, ok.stderr);
    hf.faults.set('tiny-Q8_0.gguf', { status: 500 });
    const before = requestsFor('tiny-Q8_0.gguf').length;
    const failed = await run(home, ['pull', 'org/Tiny-GGUF:Q8_0']);
    hf.faults.delete('tiny-Q4_0.gguf');
    hf.faults.delete('tiny-Q8_0.gguf');
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /HTTP 500/);
    assert.equal(requestsFor('tiny-Q8_0.gguf').length - before, 6, 'one try and five retries');
  });

  it('a redirect to another host never carries the token', async () => {
    const home = await freshHome();
    hf.faults.set('tiny-Q4_0.gguf', { redirect: true });
    const before = hf.requests.length;
    const r = await run(home, ['pull', 'org/Tiny-GGUF:Q4_0'], { HF_TOKEN: 'hf_secret' });
    hf.faults.delete('tiny-Q4_0.gguf');
    assert.equal(r.code, 0, r.stderr);
    const reqs = hf.requests.slice(before);
    assert.ok(reqs.some((q) => q.host === 'other'), 'the redirect was followed');
    for (const q of reqs) {
      assert.equal(q.authorization, q.host === 'main' ? 'Bearer hf_secret' : null, `${q.host} ${q.path}`);
    }
    assert.equal(sha256(await fs.readFile(modelFile(home, 'tiny-Q4_0.gguf'))), sha256(q4));
  });

  it('file names that would leave the repository are refused', async () => {
    const home = await freshHome();
    hf.addRepo('org/Evil-GGUF', { '../../evil-Q4_0.gguf': q4, '/abs-Q4_0.gguf': q4, 'a\\b-Q4_0.gguf': q4 });
    const r = await run(home, ['pull', 'org/Evil-GGUF']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no GGUF model files/);
    const byName = await run(home, ['pull', 'org/Evil-GGUF/../../evil-Q4_0.gguf']);
    assert.equal(byName.code, 2);
    assert.match(byName.stderr, /leaves the repository/);
    // Nothing was written anywhere: home holds the catalog and an empty models/.
    assert.deepEqual((await fs.readdir(home)).filter((n) => !n.startsWith('kiln.db')), ['models']);
    assert.deepEqual(await fs.readdir(path.join(home, 'models'), { recursive: true }), []);
    assert.equal(await exists(path.join(path.dirname(home), 'evil-Q4_0.gguf')), false);
  });

  it('says there is not enough disk space before downloading anything', async () => {
    const home = await freshHome();
    hf.addRepo('org/Huge-GGUF', { 'huge-Q4_K_M.gguf': { size: 4e15, sha256: 'a'.repeat(64) } });
    const r = await run(home, ['pull', 'org/Huge-GGUF']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not enough disk space for huge-Q4_K_M\.gguf: it needs [\d.]+ GB/);
    assert.equal(requestsFor('huge-Q4_K_M.gguf').length, 0);
  });

  it('a full disk mid-download stops at once, keeps the partial, and resumes once there is room', async (t) => {
    // A small tmpfs as KILN_HOME, in a mount namespace of our own
    // (unshare -rm: no root needed where user namespaces are allowed).
    const probe = await new Promise((resolve) => execFile('unshare', ['-rm', 'true'], (err) => resolve(!err)));
    if (!probe) return t.skip('unshare -rm is not allowed here: no small filesystem to fill');
    const out = await freshHome();
    const mnt = await freshHome();
    hf.faults.set('tiny-Q8_0.gguf', { throttle: 16 * 1024 });
    const script = `
      mount -t tmpfs -o size=${q8.length + 20 * 1024 * 1024} kiln-test "$MNT" || exit 77
      export KILN_HOME="$MNT"
      partial="$MNT/models/org/Tiny-GGUF/tiny-Q8_0.gguf.partial"
      "$KILN" pull org/Tiny-GGUF:Q8_0 >"$OUT/first.out" 2>"$OUT/first.err" &
      pid=$!
      until [ -s "$partial" ] || ! kill -0 $pid 2>/dev/null; do sleep 0.02; done
      cat /dev/zero >"$MNT/filler" 2>/dev/null   # fill the disk to the last byte
      wait $pid; echo $? >"$OUT/first.code"
      stat -c %s "$partial" >"$OUT/partial.size" 2>/dev/null
      [ -e "$MNT/models/org/Tiny-GGUF/tiny-Q8_0.gguf" ] && echo yes >"$OUT/final.early"
      rm "$MNT/filler"
      "$KILN" pull org/Tiny-GGUF:Q8_0 >"$OUT/second.out" 2>"$OUT/second.err"; echo $? >"$OUT/second.code"
      sha256sum "$MNT/models/org/Tiny-GGUF/tiny-Q8_0.gguf" | cut -d' ' -f1 >"$OUT/final.sha"
      "$KILN" list --json >"$OUT/list.json"
    `;
    const env = { ...process.env, KILN: kiln, MNT: mnt, OUT: out, HF_ENDPOINT: hf.url };
    const { code, stderr } = await new Promise((resolve) => {
      execFile('unshare', ['-rm', 'sh', '-c', script], { env, timeout: slow(120_000) },
        (err, _out, serr) => resolve({ code: err ? (err.code ?? 1) : 0, stderr: serr }));
    });
    hf.faults.delete('tiny-Q8_0.gguf');
    if (code === 77) return t.skip('cannot mount a tmpfs in a user namespace here');
    const read = (f) => fs.readFile(path.join(out, f), 'utf8').then((x) => x.trim(), () => '');
    assert.equal(code, 0, stderr);
    assert.equal(await read('first.code'), '1', await read('first.err'));
    assert.match(await read('first.err'), /disk full while writing tiny-Q8_0\.gguf; free some space and pull again/);
    const kept = Number(await read('partial.size'));
    assert.ok(kept > 0 && kept < q8.length, `partial of ${kept} bytes kept`);
    assert.equal(await read('final.early'), '', 'nothing had the final name');
    assert.equal(await read('second.code'), '0', await read('second.err'));
    assert.match(await read('second.out'), /resum/i);
    assert.equal(await read('final.sha'), sha256(q8));
    assert.equal(JSON.parse(await read('list.json'))[0].name, 'org/Tiny-GGUF:Q8_0');
  });

  it('follows a paginated file list to the last page', async () => {
    const home = await freshHome();
    const files = {};
    for (let i = 0; i < 7; i++) files[`notes/${i}.txt`] = Buffer.from(`note ${i}`);
    files['z/paged-Q8_0.gguf'] = q8;
    hf.addRepo('org/Paged-GGUF', files);
    hf.settings.treePageSize = 3;
    const before = hf.requests.length;
    const r = await run(home, ['pull', 'org/Paged-GGUF']);
    delete hf.settings.treePageSize;
    assert.equal(r.code, 0, r.stderr);
    const pages = hf.requests.slice(before).filter((q) => q.path.endsWith('/tree/main'));
    assert.equal(pages.length, 3);
    assert.equal(JSON.parse((await run(home, ['list', '--json'])).stdout)[0].name, 'org/Paged-GGUF:Q8_0');
  });

  it('on a terminal, shows a progress bar with speed and ETA', async (t) => {
    // script(1) gives kiln a pseudo-terminal for stdout.
    const probe = await new Promise((resolve) => execFile('script', ['-qec', 'true', '/dev/null'], (err) => resolve(!err)));
    if (!probe) return t.skip('script(1) is not available');
    const home = await freshHome();
    hf.faults.set('tiny-Q8_0.gguf', { throttle: 64 * 1024 });
    const r = await new Promise((resolve) => {
      execFile('script', ['-qec', `"${kiln}" pull org/Tiny-GGUF:Q8_0`, '/dev/null'],
        { env: { ...process.env, KILN_HOME: home, HF_ENDPOINT: hf.url }, timeout: slow(120_000) },
        (err, stdout) => resolve({ code: err ? (err.code ?? 1) : 0, stdout }));
    });
    hf.faults.delete('tiny-Q8_0.gguf');
    assert.equal(r.code, 0, r.stdout);
    const frames = r.stdout.split('\r').filter((f) => /\d+%/.test(f));
    assert.ok(frames.length >= 3, `several redraws of one line, got ${frames.length}`);
    assert.match(r.stdout, /\x1b\[K/, 'clears the line as it redraws');
    assert.match(r.stdout, /tiny-Q8_0\.gguf +\d+% \[[^\]]+\] [\d.]+ [KMG]?B\/[\d.]+ [KMG]?B [\d.]+ [KMG]?B\/s ETA \d+s/);
    assert.match(r.stdout, /pulled org\/Tiny-GGUF:Q8_0/);
  });

  it('POST /api/pull streams Ollama NDJSON progress and records the model', async () => {
    const home = await freshHome();
    const server = await startServer({ model: path.join(dir, 'tiny-Q8_0.gguf'),
      env: { KILN_HOME: home, HF_ENDPOINT: hf.url } });
    try {
      const post = (body) => fetch(server.baseURL + '/api/pull', { method: 'POST', body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' } });
      const res = await post({ model: 'org/Tiny-GGUF:Q8_0' });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /application\/x-ndjson/);
      const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(lines[0], { status: 'pulling manifest' });
      const layer = lines.filter((l) => l.digest);
      assert.ok(layer.length >= 1);
      const last = layer.at(-1);
      assert.equal(last.digest, 'sha256:' + sha256(q8));
      assert.equal(last.status, 'pulling ' + sha256(q8).slice(0, 12));
      assert.equal(last.total, q8.length);
      assert.equal(last.completed, q8.length);
      const statuses = lines.map((l) => l.status);
      assert.ok(statuses.indexOf('verifying sha256 digest') > statuses.indexOf(last.status));
      assert.deepEqual(statuses.slice(-2), ['writing manifest', 'success']);
      assert.deepEqual((await listed(home)).map((m) => m.name), ['org/Tiny-GGUF:Q8_0']);

      // The official client reads the same stream.
      const ollama = new Ollama({ host: server.baseURL });
      const progress = [];
      for await (const p of await ollama.pull({ model: 'org/Tiny-GGUF:Q4_0', stream: true })) progress.push(p);
      assert.equal(progress.at(-1).status, 'success');
      const bytes = progress.filter((p) => p.total);
      assert.ok(bytes.length >= 1);
      assert.equal(bytes.at(-1).completed, q4.length);
      assert.deepEqual((await listed(home)).map((m) => m.name).sort(), ['org/Tiny-GGUF:Q4_0', 'org/Tiny-GGUF:Q8_0']);
      await assert.rejects(ollama.pull({ model: 'org/Nope-GGUF' }), /not found/);

      const missing = await post({ model: 'org/Nope-GGUF', stream: false });
      assert.equal(missing.status, 404);
      assert.match((await missing.json()).error, /not found/);
      const streamed = await post({ name: 'org/Nope-GGUF' });
      assert.match((await streamed.text()).trim().split('\n').at(-1), /"error":".*not found/);
      const bad = await post({ stream: 'yes' });
      assert.equal(bad.status, 400);
      assert.match((await bad.json()).error, /model is required|stream must be a boolean/);
    } finally {
      await server.stop();
    }
  });

  it('LM Studio downloads: a job, its status until completed, then already_downloaded', async () => {
    const home = await freshHome();
    const server = await startServer({ model: path.join(dir, 'tiny-Q8_0.gguf'),
      env: { KILN_HOME: home, HF_ENDPOINT: hf.url } });
    try {
      const post = (body) => fetch(server.baseURL + '/api/v1/models/download', { method: 'POST', body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' } });
      const started = await post({ model: `${hf.url}/org/Tiny-GGUF`.replace(hf.url, 'https://huggingface.co'), quantization: 'Q4_0' });
      assert.equal(started.status, 200);
      const job = await started.json();
      assert.match(job.job_id, /^job_[0-9a-f]{10}$/);
      assert.ok(['downloading', 'completed'].includes(job.status), job.status);
      let status = job;
      for (let i = 0; i < 600 && status.status === 'downloading'; i++) {
        await new Promise((r) => setTimeout(r, 50));
        status = await (await fetch(`${server.baseURL}/api/v1/models/download/status/${job.job_id}`)).json();
      }
      assert.equal(status.status, 'completed', JSON.stringify(status));
      assert.equal(status.total_size_bytes, q4.length);
      assert.equal(status.downloaded_bytes, q4.length);
      assert.ok(!Number.isNaN(Date.parse(status.completed_at)));
      assert.deepEqual((await listed(home)).map((m) => m.name), ['org/Tiny-GGUF:Q4_0']);
      const all = await (await fetch(`${server.baseURL}/api/v1/models/download/status`)).json();
      assert.ok(all.completed.some((j) => j.job_id === job.job_id));
      assert.deepEqual(all.downloading, []);

      const again = await (await post({ model: 'org/Tiny-GGUF', quantization: 'Q4_0' })).json();
      assert.deepEqual(again, { status: 'already_downloaded' });
      const missing = await post({ model: 'org/Nope-GGUF' });
      assert.equal(missing.status, 404);
      assert.match((await missing.json()).error.message, /not found/);
      assert.equal((await post({})).status, 400);
      assert.equal((await fetch(`${server.baseURL}/api/v1/models/download/status/job_nope`)).status, 404);
    } finally {
      await server.stop();
    }
  });

  it('search lists GGUF repos by downloads, likes or author', async () => {
    hf.addRepo('other/Tiny-Chat-GGUF', {}, { downloads: 500, likes: 1, pipeline_tag: 'text-generation' });
    const home = await freshHome();
    const r = await run(home, ['search', 'tiny', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const hits = JSON.parse(r.stdout);
    assert.deepEqual(hits.map((h) => h.name), ['other/Tiny-Chat-GGUF', 'org/Tiny-GGUF']);
    assert.equal(hits[0].downloads, 500);
    const byLikes = JSON.parse((await run(home, ['search', 'tiny', '--sort', 'likes', '--json'])).stdout);
    assert.equal(byLikes[0].name, 'org/Tiny-GGUF');
    const byAuthor = JSON.parse((await run(home, ['search', 'tiny', '--author', 'org', '--json'])).stdout);
    assert.deepEqual(byAuthor.map((h) => h.name), ['org/Tiny-GGUF']);
    const table = await run(home, ['search', 'tiny']);
    assert.match(table.stdout, /^NAME\s+DOWNLOADS\s+LIKES\s+PIPELINE\s+UPDATED$/m);
  });
});
