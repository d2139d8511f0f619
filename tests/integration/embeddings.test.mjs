// /v1/embeddings on a generated bert model, through the official client
// (which asks for base64 and decodes it) and raw JSON.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serveModel, postJSON, slow } from './harness.mjs';

const N_EMBD = 128;
const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('embeddings', { timeout: slow(300_000) }, () => {
  const ctx = serveModel({
    name: 'embed',
    modelArgs: ['--arch', 'bert', '--vocab', 'bert-bge', '--n-embd', String(N_EMBD), '--n-layer', '2', '--n-head', '4',
      '--ctx', '512'],
  });

  it('the openai client gets one normalized vector per input', async () => {
    const res = await ctx.client.embeddings.create({ model: 'embed', input: ['hello world', 'something else'] });
    assert.equal(res.object, 'list');
    assert.equal(res.data.length, 2);
    for (const [i, d] of res.data.entries()) {
      assert.equal(d.index, i);
      assert.equal(d.embedding.length, N_EMBD);
      assert.ok(Math.abs(norm(d.embedding) - 1) < 1e-3);
    }
    assert.notDeepEqual(res.data[0].embedding, res.data[1].embedding);
    assert.ok(res.usage.prompt_tokens > 0);
  });

  it('float and base64 encodings carry the same numbers', async () => {
    const body = { model: 'embed', input: 'the same text' };
    const asFloat = await (await postJSON(ctx.server.baseURL, '/v1/embeddings', body)).json();
    const asB64 = await (await postJSON(ctx.server.baseURL, '/v1/embeddings', { ...body, encoding_format: 'base64' })).json();
    const bytes = Buffer.from(asB64.data[0].embedding, 'base64');
    const decoded = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
    assert.equal(decoded.length, N_EMBD);
    decoded.forEach((x, i) => assert.ok(Math.abs(x - asFloat.data[0].embedding[i]) < 1e-6));
  });

  it('bad input and chat on an embedding model are 400s', async () => {
    for (const body of [{ input: 5 }, { input: [] }, { input: ['ok', 3] }, { input: 'x', encoding_format: 'hex' }]) {
      const res = await postJSON(ctx.server.baseURL, '/v1/embeddings', body);
      assert.equal(res.status, 400, JSON.stringify(body));
    }
    const chat = await postJSON(ctx.server.baseURL, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(chat.status, 400);
    assert.match((await chat.json()).error.message, /embedding model/);
  });
});

describe('rerank', { timeout: slow(300_000) }, () => {
  const ctx = serveModel({
    name: 'rerank',
    modelArgs: ['--arch', 'bert', '--vocab', 'bert-bge', '--n-embd', '64', '--n-layer', '2', '--n-head', '4',
      '--ctx', '512', '--reranker'],
  });

  it('scores every document, best first, cut to top_n', async () => {
    const documents = ['a kiln is an oven', 'bananas are yellow', { text: 'pottery is fired' }, 'rain'];
    const res = await postJSON(ctx.server.baseURL, '/v1/rerank', { model: 'rerank', query: 'what is a kiln', documents });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.results.length, 4);
    assert.deepEqual(body.results.map((r) => r.index).sort(), [0, 1, 2, 3]);
    for (let i = 1; i < 4; i++) assert.ok(body.results[i - 1].relevance_score >= body.results[i].relevance_score);

    const top = await (await postJSON(ctx.server.baseURL, '/rerank',
      { query: 'what is a kiln', documents, top_n: 2, return_documents: true })).json();
    assert.deepEqual(top.results.map((r) => r.index), body.results.slice(0, 2).map((r) => r.index));
    assert.equal(typeof top.results[0].document.text, 'string');
  });

  it('missing query or documents are 400s; embeddings on a reranker too', async () => {
    for (const body of [{ documents: ['x'] }, { query: 'q' }, { query: 'q', documents: [] }, { query: 'q', documents: [1] }]) {
      assert.equal((await postJSON(ctx.server.baseURL, '/v1/rerank', body)).status, 400, JSON.stringify(body));
    }
    const emb = await postJSON(ctx.server.baseURL, '/v1/embeddings', { input: 'x' });
    assert.equal(emb.status, 400);
    assert.match((await emb.json()).error.message, /reranker/);
  });
});
