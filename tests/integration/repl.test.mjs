// kiln run's interactive chat, driven in tmux (send-keys, capture-pane) as a
// user would: a multi-turn chat, every slash command, Ctrl-C during an
// answer, save and load, markdown on a terminal, and plain text when piped.
// The markdown and the requests' contents are checked against a small
// OpenAI-compatible server that streams a known answer and records what it
// was sent; the rest runs a real model in-process.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { makeTinyModel, removeDir, tempDir, slow } from './harness.mjs';

const SOCKET = `kiln-test-${process.pid}`;
const tmux = (...args) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });

// A terminal running `cmd`; screen() is what it shows now.
function terminal(name, cmd, env) {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ');
  tmux('new-session', '-d', '-s', name, '-x', '100', '-y', '50', `env ${vars} ${cmd}; echo "[exit $?]"; sleep 60`);
  return {
    keys: (...k) => tmux('send-keys', '-t', name, ...k),
    type: (text) => tmux('send-keys', '-t', name, '-l', text),
    screen: (escapes = false) => tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-J', '-S', '-200', '-t', name),
    async waitFor(pattern, timeout = slow(30_000), escapes = false) {
      const until = Date.now() + timeout;
      for (;;) {
        const s = this.screen(escapes);
        if (pattern.test(s)) return s;
        if (Date.now() > until) throw new Error(`timed out waiting for ${pattern}; the screen:\n${s}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => { try { tmux('kill-session', '-t', name); } catch { /* gone */ } },
  };
}

// Counts the prompts that ended on the screen: ">>> " at a line start.
const prompts = (s) => (s.match(/^>>> /gm) ?? []).length;

describe('kiln run, interactive (tmux)', { timeout: slow(300_000) }, () => {
  const kiln = process.env.KILN_BIN;
  let model;
  let home;
  let fake;
  const requests = [];
  const answer = '# Result\n\nHere is **bold** text:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\n| k | v |\n|---|---|\n| x | 1 |\n';

  before(async () => {
    model = await makeTinyModel();
    home = await tempDir('kiln-home-');
    fake = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        if (req.url === '/health') return res.end('{"status":"ok"}');
        // "small" has a context of 300 tokens; every other name 4096.
        if (req.url.startsWith('/v1/models/')) {
          return res.end(JSON.stringify({ id: req.url.slice(11), meta: { n_ctx: req.url.endsWith('/small') ? 300 : 4096 } }));
        }
        if (req.url === '/api/show') return res.end(JSON.stringify({ details: { family: 'llama', parameter_size: '1B', quantization_level: 'Q4_0' } }));
        if (req.url === '/v1/messages/count_tokens') return res.end(JSON.stringify({ input_tokens: body.length / 4 | 0 }));
        if (req.url === '/v1/chat/completions') {
          requests.push(JSON.parse(body));
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          const chunk = (o) => `data: ${JSON.stringify(o)}\n\n`;
          for (let i = 0; i < answer.length; i += 5) {
            res.write(chunk({ choices: [{ index: 0, delta: { content: answer.slice(i, i + 5) }, finish_reason: null }] }));
          }
          res.write(chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
          res.write(chunk({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 30 } }));
          return res.end('data: [DONE]\n\n');
        }
        res.writeHead(404).end('{}');
      });
    });
    await new Promise((r) => fake.listen(0, '127.0.0.1', r));
  }, { timeout: slow(120_000) });

  after(async () => {
    try { tmux('kill-server'); } catch { /* none */ }
    fake?.close();
    await removeDir(model?.dir);
    await removeDir(home);
  });

  it('a chat through a server: markdown on the terminal, and what each command sends', async () => {
    const t = terminal('md', `${kiln} run fake --url http://127.0.0.1:${fake.address().port}`, { KILN_HOME: home, TERM: 'xterm-256color' });
    try {
      await t.waitFor(/fake · server http:\/\/127\.0\.0\.1:\d+ · \/help/);
      t.type('Show me code');
      t.keys('Enter');
      const s = await t.waitFor(/│ x │ 1 │/);
      assert.match(s, /^Result$/m, 'the heading, without its #');
      assert.match(s, / python /, 'the code block has its language label');
      assert.match(s, /^ {2}def add\(a, b\):$/m, 'code is indented, fences gone');
      assert.doesNotMatch(s, /```|\*\*/);
      assert.match(s, /├───┼───┤/, 'the table is drawn aligned');
      const colours = t.screen(true);
      assert.match(colours, /\x1b\[35mdef/, 'the keyword is coloured');

      t.type('/set temperature 0.25'); t.keys('Enter');
      t.type('/system Be terse.'); t.keys('Enter');
      t.type('/set verbose'); t.keys('Enter');
      await t.waitFor(/stats after each answer/);
      t.type('Again'); t.keys('Enter');
      await t.waitFor(/prompt: 12 tokens \| generated: 30 tokens/);
      const second = requests.at(-1);
      assert.equal(second.temperature, 0.25);
      assert.deepEqual(second.messages.map((m) => m.role), ['system', 'user', 'assistant', 'user']);
      assert.equal(second.messages[0].content, 'Be terse.');
      assert.equal(second.messages[2].content, answer, 'the whole answer goes back as history');
      t.type('/clear'); t.keys('Enter');
      t.type('Fresh'); t.keys('Enter');
      await t.waitFor(/conversation is cleared[\s\S]*Fresh[\s\S]*│ x │ 1 │/);
      assert.deepEqual(requests.at(-1).messages.map((m) => m.role), ['system', 'user']);
      t.type('/set'); t.keys('Enter');
      await t.waitFor(/temperature\s+0\.25[\s\S]*verbose\s+on/);
      t.type('/sho'); t.keys('Enter');
      await t.waitFor(/unknown command \/sho; did you mean \/show\?/);
      t.type('/show'); t.keys('Enter');
      await t.waitFor(/model: fake\nrunning on: server [^\n]+\nfamily: llama, parameters: 1B, quantization: Q4_0\ncontext: 4096 tokens/);
      // Another model with a small context: the oldest exchanges go, and the user is told.
      t.type('/model small'); t.keys('Enter');
      await t.waitFor(/now small · server/);
      t.type('x'.repeat(300)); t.keys('Enter');
      await t.waitFor(/xxxx\n[\s\S]*│ x │ 1 │[\s\S]*>>> $/m);
      assert.equal(requests.at(-1).model, 'small');
      t.type('y'.repeat(300)); t.keys('Enter');
      await t.waitFor(/\(the \d+ oldest exchanges? no longer fit the context of 300 tokens and (was|were) dropped\)/);
      await t.waitFor(/y{20}\n[\s\S]*│ x │ 1 │[\s\S]*>>> $/m);
      assert.ok(!requests.at(-1).messages.some((m) => m.content === 'Fresh'), 'the oldest turn was not sent');
      assert.equal(requests.at(-1).messages.at(-1).content, 'y'.repeat(300));
      t.type('z'.repeat(1400)); t.keys('Enter');
      await t.waitFor(/that message takes \d+ tokens; with room for an answer it does not fit the model's context of 300/);
      t.type('/help'); t.keys('Enter');
      await t.waitFor(/\/save\s+NAME/);
      t.type('/bye'); t.keys('Enter');
      await t.waitFor(/\[exit 0\]/);
    } finally {
      t.close();
    }
  });

  it('in-process: multi-turn, """ blocks, Ctrl-C stops an answer, save and load, Ctrl-D leaves', async () => {
    const t = terminal('chat', `${kiln} run ${model.path} -n 6 --seed 1`, { KILN_HOME: home, TERM: 'xterm-256color' });
    try {
      await t.waitFor(/in-process · \/help/);
      t.type('Hello'); t.keys('Enter');
      await t.waitFor(/Hello\n[\s\S]+\n\n>>> $/m);
      t.type('"""'); t.keys('Enter');
      t.type('first line'); t.keys('Enter');
      t.type('second line"""'); t.keys('Enter');
      await t.waitFor(/\.\.\. second line"""\n[\s\S]+\n\n>>> $/m);
      t.keys('paste one', 'Enter', 'paste two', 'Enter');  // arrives at once, like a paste: one message
      await t.waitFor(/paste two\n[\s\S]+\n\n>>> $/m);
      t.type('/history'); t.keys('Enter');
      const h = await t.waitFor(/user: first line\nsecond line\nassistant: [\s\S]*user: paste one\npaste two\nassistant: /);
      assert.match(h, /user: Hello\nassistant: /);
      t.type('/set num_ctx 1024'); t.keys('Enter');
      t.type('/show'); t.keys('Enter');
      await t.waitFor(/set num_ctx to 1024[\s\S]*num_ctx\s+1024/);
      t.type('Again please'); t.keys('Enter');
      await t.waitFor(/Again please\n[\s\S]+\n\n>>> $/m);
      t.type('/show'); t.keys('Enter');
      await t.waitFor(/context: 1024 tokens/, slow(30_000));
      t.type('/set max_tokens 100000'); t.keys('Enter');
      t.type('Tell me everything'); t.keys('Enter');
      await t.waitFor(/Tell me everything\n.{20,}/);
      t.keys('C-c');
      await t.waitFor(/\(stopped\)\n\n>>> $/m);
      t.type('/save talk'); t.keys('Enter');
      await t.waitFor(/saved to .*sessions\/talk\.json/);
      const saved = JSON.parse(await fs.readFile(path.join(home, 'sessions', 'talk.json'), 'utf8'));
      assert.equal(saved.messages.length, 10);
      assert.equal(saved.messages[0].content, 'Hello');
      t.type('/clear'); t.keys('Enter');
      t.type('/load talk'); t.keys('Enter');
      await t.waitFor(/loaded talk: 10 messages/);
      t.type('/load nope'); t.keys('Enter');
      await t.waitFor(/no session 'nope' \(there are: talk\)/);
      t.type('half a line'); t.keys('C-c');
      t.keys('C-d');
      await t.waitFor(/\[exit 0\]/);
      const history = await fs.readFile(path.join(home, 'history'), 'utf8');
      assert.match(history, /Tell(\\040| )me(\\040| )everything/, 'line history is kept across sessions (libedit escapes spaces)');
    } finally {
      t.close();
    }
  });

  it('piped: answers once, plain text, no escape codes', async () => {
    const out = await new Promise((resolve, reject) => {
      const child = execFile(kiln, ['run', '--url', `http://127.0.0.1:${fake.address().port}`, 'fake'],
        { env: { ...process.env, KILN_HOME: home } }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
      child.stdin.end('Show me code');
    });
    assert.equal(out, answer + '\n', 'exactly the answer');
    assert.doesNotMatch(out, /\x1b\[/);
  });
});
