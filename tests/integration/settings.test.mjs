// Settings reach what they govern: model.template_timeout bounds a chat
// template's render (a template is code from the request or the model).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serveModel, postJSON, slow } from './harness.mjs';

describe('settings', { timeout: slow(300_000) }, () => {
  const ctx = serveModel({ args: ['--template-timeout', '2'] });

  it('a template that runs past --template-timeout is refused with 400, and the server goes on', async () => {
    const started = Date.now();
    const r = await postJSON(ctx.server.baseURL, '/api/generate', {
      model: ctx.model.id, stream: false, prompt: 'hi',
      template: '{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}',
    });
    const took = Date.now() - started;
    assert.equal(r.status, 400);
    assert.match((await r.json()).error, /template/i);
    // Its deadline, not the default 60 s: generous slack for a loaded machine.
    assert.ok(took < slow(30_000), `refused after ${took} ms`);
    const ok = await postJSON(ctx.server.baseURL, '/api/chat', {
      model: ctx.model.id, stream: false, messages: [{ role: 'user', content: 'hi' }], options: { num_predict: 2 },
    });
    assert.equal(ok.status, 200);
  });
});
