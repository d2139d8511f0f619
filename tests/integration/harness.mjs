// Shared helpers for the kiln integration tests (node:test, no sleeps).
//
// Required environment variables (absolute paths):
//   KILN_BIN         the kiln server binary; run as `$KILN_BIN serve --host 127.0.0.1 --port 0 --model M ...`
//   KILN_MAKE_MODEL  the model maker binary that writes a small random-weight GGUF file
//
// Run from the repo root:  node --test --test-concurrency=1 tests/integration/

import { spawn, execFile } from 'node:child_process';
import { before, after } from 'node:test';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';

// Under a sanitizer (KILN_SANITIZE, set by tests/CMakeLists.txt) kiln runs
// several times slower: every time limit of the tests stretches by this
// factor. What the tests assert does not change, only how long they wait.
export const SANITIZER = process.env.KILN_SANITIZE ?? '';
export const SLOWDOWN = { thread: 10, address: 3 }[SANITIZER] ?? 1;
/** A time limit in ms, stretched for a sanitized build. */
export const slow = (ms) => ms * SLOWDOWN;

export const START_TIMEOUT_MS = slow(60_000);
export const STOP_TIMEOUT_MS = slow(20_000);
export const REQUEST_TIMEOUT_MS = slow(60_000);
export const MAKE_MODEL_TIMEOUT_MS = slow(120_000);
const MAX_LOG_CHARS = 256 * 1024;

function requireEnv(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} must be set (absolute path of the binary)`);
  return value;
}

export function tempDir(prefix = 'kiln-test-') {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir) {
  return dir ? fs.rm(dir, { recursive: true, force: true }) : Promise.resolve();
}

/** Runs $KILN_MAKE_MODEL with `args` (cwd = dir); returns the absolute path given after `-o`. */
export function makeModel(dir, args) {
  const bin = requireEnv('KILN_MAKE_MODEL');
  const o = args.indexOf('-o');
  if (o < 0 || o + 1 >= args.length) throw new Error('makeModel: args must contain "-o <path>"');
  const out = path.resolve(dir, args[o + 1]);
  const fullArgs = [...args.slice(0, o + 1), out, ...args.slice(o + 2)];
  return new Promise((resolve, reject) => {
    execFile(bin, fullArgs, { cwd: dir, timeout: MAKE_MODEL_TIMEOUT_MS, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`${bin} ${fullArgs.join(' ')} failed (${err.code ?? err.signal}):\n${stderr}`));
        } else {
          resolve(out);
        }
      });
  });
}

/** Arguments for the standard tiny llama model (qwen2 vocab, ChatML template by default). */
export function tinyModelArgs(out, extra = []) {
  return ['--arch', 'llama', '--vocab', 'qwen2', '--n-embd', '64', '--n-layer', '2', '--n-head', '4',
    '--n-head-kv', '2', '--n-ff', '128', '--ctx', '512', '--seed', '1', '--type', 'f16', ...extra, '-o', out];
}

/** Creates a temp dir holding `tiny.gguf`; the served model id is the file name without `.gguf`. */
export async function makeTinyModel() {
  return makeNamedModel('tiny', tinyModelArgs('tiny.gguf'));
}

/** Makes `<name>.gguf` with model-maker `args` (which must include `-o <name>.gguf`) in a temp dir. */
export async function makeNamedModel(name, args) {
  const dir = await tempDir('kiln-model-');
  const file = await makeModel(dir, args);
  return { dir, path: file, id: name };
}

const liveProcs = new Set();
process.on('exit', () => {
  for (const proc of liveProcs) proc.kill('SIGKILL');
});

/**
 * Spawns `$KILN_BIN serve` with a fresh KILN_HOME (or `home`, removed at stop too) and waits for the
 * "listening on URL" stdout line. Without `model` the server has no default model.
 * Returns { baseURL, proc, home, stop(signal='SIGTERM') -> {code, signal}, stdout, stderr }.
 */
export async function startServer({ model, args = [], env = {}, home: givenHome, host = '127.0.0.1' }) {
  const bin = requireEnv('KILN_BIN');
  const home = givenHome ?? await tempDir('kiln-home-');
  const argv = ['serve', '--host', host, '--port', '0', ...(model ? ['--model', model] : []), ...args];
  const proc = spawn(bin, argv, {
    env: { ...process.env, KILN_HOME: home, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveProcs.add(proc);
  const logs = { stdout: '', stderr: '' };
  const append = (key, chunk) => {
    logs[key] = (logs[key] + chunk).slice(-MAX_LOG_CHARS);
  };
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (chunk) => append('stdout', chunk)); // also keeps draining the pipe
  proc.stderr.on('data', (chunk) => append('stderr', chunk));

  const exited = new Promise((resolve) => {
    proc.once('close', (code, signal) => { // 'close': exited and stdio fully drained
      liveProcs.delete(proc);
      resolve({ code, signal });
    });
  });
  const describeLogs = () => `\n--- stdout ---\n${logs.stdout}\n--- stderr ---\n${logs.stderr}`;

  const baseURL = await new Promise((resolve, reject) => {
    let pending = '';
    let timer;
    const finish = (err, url) => {
      clearTimeout(timer);
      proc.stdout.off('data', onData);
      proc.off('error', onError);
      proc.off('close', onExit);
      if (err) {
        proc.kill('SIGKILL');
        reject(err);
      } else {
        resolve(url);
      }
    };
    const onData = (chunk) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop(); // only complete lines: a port number may be split across chunks
      for (const line of lines) {
        const m = /listening on (http:\/\/[^\s]+)/.exec(line);
        if (m) return finish(null, m[1].replace(/[/.,;)]+$/, ''));
      }
    };
    const onError = (err) => finish(new Error(`failed to spawn ${bin}: ${err.message}`));
    const onExit = (code, signal) =>
      finish(new Error(`server exited before listening (code ${code}, signal ${signal})${describeLogs()}`));
    timer = setTimeout(() => finish(new Error(`server did not report "listening on" within ` +
      `${START_TIMEOUT_MS} ms${describeLogs()}`)), START_TIMEOUT_MS);
    proc.stdout.on('data', onData);
    proc.once('error', onError);
    proc.once('close', onExit);
  }).catch(async (err) => {
    liveProcs.delete(proc);
    await removeDir(home);
    throw err;
  });

  let stopping;
  const stop = (signal = 'SIGTERM') => {
    stopping ??= (async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      let timer;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => {
          proc.kill('SIGKILL');
          reject(new Error(`server did not exit within ${STOP_TIMEOUT_MS} ms of ${signal}${describeLogs()}`));
        }, STOP_TIMEOUT_MS);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
        await removeDir(home);
      }
    })();
    return stopping;
  };

  /** Resolves with the first match of `regex` in stderr past offset `from` (default: now). */
  const waitForStderr = (regex, { from = logs.stderr.length, timeoutMs = REQUEST_TIMEOUT_MS } = {}) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const m = regex.exec(logs.stderr.slice(from));
        if (!m) return false;
        clearTimeout(timer);
        proc.stderr.off('data', onData);
        resolve(m);
        return true;
      };
      const onData = () => setImmediate(check); // after append() ran for this chunk
      const timer = setTimeout(() => {
        proc.stderr.off('data', onData);
        reject(new Error(`stderr did not match ${regex} within ${timeoutMs} ms${describeLogs()}`));
      }, timeoutMs);
      if (!check()) proc.stderr.on('data', onData);
    });

  return {
    baseURL, proc, home, stop, waitForStderr,
    get stdout() { return logs.stdout; },
    get stderr() { return logs.stderr; },
    get alive() { return proc.exitCode === null && proc.signalCode === null; },
  };
}

/**
 * Parses SSE text into { events, done, raw }: `events` holds the JSON-parsed `data:` payloads
 * (excluding [DONE]); `done` is true iff `[DONE]` was present and was the final event.
 */
export function parseSSE(raw) {
  const events = [];
  let sawDone = false;
  let done = false;
  for (const block of raw.replace(/\r\n?/g, '\n').split('\n\n')) {
    const data = block.split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''));
    if (data.length === 0) continue;
    const payload = data.join('\n');
    if (payload === '[DONE]') {
      sawDone = true;
      done = true;
      continue;
    }
    done = false; // an event after [DONE] means [DONE] was not final
    try {
      events.push(JSON.parse(payload));
    } catch (err) {
      throw new Error(`invalid JSON in SSE data: ${payload}\n--- raw ---\n${raw}`, { cause: err });
    }
  }
  return { events, done: sawDone && done, raw };
}

/** Reads a fetch Response body (SSE) to the end and parses it with parseSSE. */
export async function readSSE(response) {
  const decoder = new TextDecoder();
  let raw = '';
  for await (const chunk of response.body) raw += decoder.decode(chunk, { stream: true });
  raw += decoder.decode();
  return parseSSE(raw);
}

/** POSTs a JSON value (or a raw string body) and returns the fetch Response. */
export function postJSON(baseURL, route, body) {
  return fetch(baseURL + route, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

export function getURL(baseURL, route) {
  return fetch(baseURL + route, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
}

/** Options for the official `openai` client pointed at a kiln server. */
export function openaiOptions(baseURL) {
  return { baseURL: baseURL + '/v1', apiKey: 'none', maxRetries: 0, timeout: REQUEST_TIMEOUT_MS };
}

/**
 * Registers before/after hooks on the enclosing describe(): a model (the tiny
 * one, or `name` made with model-maker `modelArgs`) and a server for it (extra
 * `args` to `kiln serve`), stopped and removed afterwards. Returns an object
 * whose `model`, `server` and `client` (openai) are set once the before hook ran.
 */
export function serveModel({ args = [], name, modelArgs } = {}) {
  const ctx = { model: null, server: null, client: null };
  before(async () => {
    ctx.model = modelArgs ? await makeNamedModel(name, [...modelArgs, '-o', `${name}.gguf`]) : await makeTinyModel();
    ctx.server = await startServer({ model: ctx.model.path, args });
    ctx.client = new OpenAI(openaiOptions(ctx.server.baseURL));
  }, { timeout: slow(180_000) });
  after(async () => {
    await ctx.server?.stop();
    await removeDir(ctx.model?.dir);
  });
  return ctx;
}
