// Structured output: a bounded JSON schema constrains sampling (llama.cpp's
// grammar from llama-common's schema converter), so every answer parses and
// validates whatever the random weights say. 50 requests over two
// vocabularies, through OpenAI's response_format and Ollama's format.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import Ajv from 'ajv';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { makeModel, startServer, tempDir, postJSON, openaiOptions, slow, SANITIZER } from './harness.mjs';

const schema = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 12 },
    age: { type: 'integer', minimum: 0, maximum: 150 },
    score: { type: 'number' },
    ok: { type: 'boolean' },
    color: { enum: ['red', 'green', 'blue'] },
    tags: { type: 'array', items: { type: 'string', maxLength: 6 }, maxItems: 3 },
  },
  required: ['name', 'age', 'ok', 'color'],
  additionalProperties: false,
};

// Grammar-constrained sampling is the slowest thing kiln does under TSan
// (minutes an answer on 2 cores): there, 5 answers a vocabulary, 1 through
// Ollama, check the same properties.
const ANSWERS = SANITIZER === 'thread' ? 5 : 25;

describe('structured output', { timeout: slow(300_000) }, () => {
  let server;
  let openai;
  let ollama;
  const validate = new Ajv({ strict: false }).compile(schema);

  before(async () => {
    const home = await tempDir('kiln-home-');
    for (const vocab of ['qwen2', 'llama-spm']) {
      const dir = path.join(home, 'models', 'test', vocab);
      await fs.mkdir(dir, { recursive: true });
      await makeModel(dir, ['--arch', 'llama', '--vocab', vocab, '--n-embd', '64', '--n-layer', '2', '--n-head', '4',
        '--n-head-kv', '2', '--n-ff', '128', '--ctx', '1024', '--type', 'f16', '-o', `${vocab}-F16.gguf`]);
    }
    server = await startServer({ home, args: ['--cache-ram', '0', '--keep-alive', '-1'] });
    openai = new OpenAI(openaiOptions(server.baseURL));
    ollama = new Ollama({ host: server.baseURL });
  }, { timeout: slow(180_000) });

  after(async () => {
    await server?.stop();
  });

  for (const vocab of ['qwen2', 'llama-spm']) {
    it(`${ANSWERS} answers from a ${vocab} model all validate against the schema`, async (t) => {
      const model = `test/${vocab}:F16`;
      let tokens = 0;
      for (let i = 0; i < ANSWERS; i++) {
        let text;
        if (i % 5 === 4) {  // every fifth through Ollama's format
          const r = await ollama.chat({ model, messages: [{ role: 'user', content: `Person ${i}` }], format: schema,
            options: { num_predict: 300, temperature: 1, seed: i } });
          assert.equal(r.done_reason, 'stop', `answer ${i} was cut: ${r.message.content}`);
          text = r.message.content;
        } else {
          const r = await openai.chat.completions.create({
            model, messages: [{ role: 'user', content: `Person ${i}` }], max_tokens: 300, temperature: 1, seed: i,
            response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } },
          });
          assert.equal(r.choices[0].finish_reason, 'stop', `answer ${i} was cut: ${r.choices[0].message.content}`);
          text = r.choices[0].message.content;
          tokens += r.usage.completion_tokens;
        }
        let value;
        assert.doesNotThrow(() => { value = JSON.parse(text); }, `answer ${i} is JSON: ${text}`);
        assert.ok(validate(value), `answer ${i} ${text} fails the schema: ${JSON.stringify(validate.errors)}`);
      }
      t.diagnostic(`${vocab}: ${ANSWERS} of ${ANSWERS} valid, ${tokens} tokens over the ${ANSWERS - Math.floor(ANSWERS / 5)} OpenAI answers`);
    });
  }

  it('a response_format or format that is not usable is a 400', async () => {
    const cases = [
      ['/v1/chat/completions', { response_format: { type: 'xml' } }, 'response_format'],
      ['/v1/chat/completions', { response_format: { type: 'json_schema', json_schema: { name: 'x' } } }, 'response_format'],
      ['/v1/chat/completions', { response_format: 'json' }, 'response_format'],
    ];
    for (const [route, extra, param] of cases) {
      const r = await postJSON(server.baseURL, route, { model: 'test/qwen2', messages: [{ role: 'user', content: 'x' }], ...extra });
      assert.equal(r.status, 400, JSON.stringify(extra));
      assert.equal((await r.json()).error.param, param);
    }
    const o = await postJSON(server.baseURL, '/api/chat', { model: 'test/qwen2', messages: [{ role: 'user', content: 'x' }], format: 5 });
    assert.equal(o.status, 400);
    assert.match((await o.json()).error, /'format'/);
  });
});
