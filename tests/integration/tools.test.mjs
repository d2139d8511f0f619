// Tool calling and thinking through the official clients. Random weights
// never choose a tool on their own, so the calls here are required
// (tool_choice "required" / a named function / Anthropic's "any"): the chat
// template's grammar then binds the answer to the model's tool-call format,
// and what comes back is parsed the way the template writes it (Qwen 2.5's
// <tool_call> JSON here, from llama.cpp's models/templates). Arguments
// must validate against each tool's schema, streamed or whole.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import Ajv from 'ajv';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import Anthropic from '@anthropic-ai/sdk';
import { makeModel, startServer, tempDir, postJSON, openaiOptions, slow } from './harness.mjs';

const weather = {
  type: 'object',
  properties: { city: { type: 'string', maxLength: 16 }, unit: { enum: ['c', 'f'] } },
  required: ['city', 'unit'],
  additionalProperties: false,
};
const clock = {
  type: 'object',
  properties: { tz: { enum: ['utc', 'cet', 'pst'] } },
  required: ['tz'],
  additionalProperties: false,
};
const schemas = { get_weather: weather, get_time: clock };
const openaiTools = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: weather } },
  { type: 'function', function: { name: 'get_time', description: 'Time in a zone', parameters: clock } },
];

describe('tool calls and thinking', { timeout: slow(300_000) }, () => {
  let server;
  let openai;
  let ollama;
  let anthropic;
  const ajv = new Ajv({ strict: false });
  const validators = Object.fromEntries(Object.entries(schemas).map(([k, s]) => [k, ajv.compile(s)]));
  const assertCall = (name, args, where) => {
    assert.ok(validators[name], `${where}: unknown tool ${name}`);
    assert.ok(validators[name](args), `${where}: ${JSON.stringify(args)} does not fit ${name}: ${ajv.errorsText(validators[name].errors)}`);
  };

  before(async () => {
    const home = await tempDir('kiln-home-');
    const make = async (name, extra) => {
      const dir = path.join(home, 'models', 'test', name);
      await fs.mkdir(dir, { recursive: true });
      await makeModel(dir, ['--arch', 'llama', '--vocab', 'qwen2', '--n-embd', '64', '--n-layer', '2', '--n-head', '4',
        '--n-head-kv', '2', '--n-ff', '128', '--ctx', '2048', '--type', 'f16', ...extra, '-o', `${name}-F16.gguf`]);
    };
    await make('tools', ['--chat-template-of', 'Qwen-Qwen2.5-7B-Instruct']);
    await make('think', ['--chat-template-of', 'Qwen-Qwen3-0.6B']);
    await make('plain', []);  // ChatML: no tool format
    server = await startServer({ home, args: ['--keep-alive', '-1'] });
    openai = new OpenAI(openaiOptions(server.baseURL));
    ollama = new Ollama({ host: server.baseURL });
    anthropic = new Anthropic({ baseURL: server.baseURL, apiKey: 'none', maxRetries: 0 });
  }, { timeout: slow(180_000) });

  after(async () => {
    await server?.stop();
  });

  it('openai: tool_choice required gives one tool call that fits its schema, five times', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await openai.chat.completions.create({
        model: 'test/tools:F16', messages: [{ role: 'user', content: `Weather or time? (${i})` }],
        tools: openaiTools, tool_choice: 'required', parallel_tool_calls: false, max_tokens: 400, seed: i, temperature: 1,
      });
      const choice = r.choices[0];
      assert.equal(choice.finish_reason, 'tool_calls', JSON.stringify(choice));
      assert.equal(choice.message.content, null);
      assert.equal(choice.message.tool_calls.length, 1);
      const call = choice.message.tool_calls[0];
      assert.equal(call.type, 'function');
      assert.match(call.id, /^call_[A-Za-z0-9]{24}$/);
      assertCall(call.function.name, JSON.parse(call.function.arguments), `answer ${i}`);
    }
  });

  it('openai: parallel tool calls: several calls, each with its own id, until the model or the limit stops', async () => {
    const r = await openai.chat.completions.create({
      model: 'test/tools:F16', messages: [{ role: 'user', content: 'Weather and time in Paris?' }],
      tools: openaiTools, tool_choice: 'required', max_tokens: 300, seed: 11, temperature: 1,
    });
    const { finish_reason: finish, message } = r.choices[0];
    assert.ok(['tool_calls', 'length'].includes(finish), finish);
    assert.ok(message.tool_calls.length >= 1);
    assert.equal(new Set(message.tool_calls.map((c) => c.id)).size, message.tool_calls.length);
    // Every call but one cut off by the limit is whole and fits its schema.
    const whole = finish === 'length' ? message.tool_calls.slice(0, -1) : message.tool_calls;
    for (const c of whole) assertCall(c.function.name, JSON.parse(c.function.arguments), 'parallel');
  });

  it('openai: a named function, streamed, arrives as deltas that add up to valid calls', async () => {
    const stream = await openai.chat.completions.create({
      model: 'test/tools:F16', messages: [{ role: 'user', content: 'What time is it in Berlin?' }],
      tools: openaiTools, tool_choice: { type: 'function', function: { name: 'get_time' } },
      parallel_tool_calls: false, max_tokens: 300, stream: true, seed: 7, temperature: 1,
    });
    const calls = [];
    let finish = null;
    let text = '';
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      if (!c) continue;
      if (c.finish_reason) finish = c.finish_reason;
      text += c.delta.content ?? '';
      for (const d of c.delta.tool_calls ?? []) {
        if (d.id) {
          assert.equal(d.index, calls.length, 'a new call takes the next index');
          calls.push({ id: d.id, name: d.function.name, args: d.function.arguments ?? '' });
        } else {
          calls[d.index].args += d.function.arguments;
        }
      }
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(text, '');
    assert.equal(calls.length, 1, 'parallel_tool_calls false: one call');
    assert.equal(calls[0].name, 'get_time');
    assertCall('get_time', JSON.parse(calls[0].args), 'streamed');
  });

  it('openai: the tool result goes back into the conversation and the model answers', async () => {
    const first = await openai.chat.completions.create({
      model: 'test/tools:F16', messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: openaiTools, tool_choice: { type: 'function', function: { name: 'get_weather' } }, parallel_tool_calls: false,
      max_tokens: 300, seed: 3,
    });
    assert.equal(first.choices[0].finish_reason, 'tool_calls', 'one bounded call ends well inside 300 tokens');
    const call = first.choices[0].message.tool_calls[0];
    const messages = [
      { role: 'user', content: 'Weather in Paris?' },
      first.choices[0].message,
      { role: 'tool', tool_call_id: call.id, content: 'Sunny, 18 degrees' },
    ];
    const rendered = await (await postJSON(server.baseURL, '/apply-template',
      { model: 'test/tools:F16', messages, tools: openaiTools })).json();
    assert.match(rendered.prompt, /<tool_call>[\s\S]*get_weather[\s\S]*<\/tool_call>/, 'the call is in the history');
    assert.match(rendered.prompt, /<tool_response>\nSunny, 18 degrees\n<\/tool_response>/, 'and its result');
    const second = await openai.chat.completions.create({
      model: 'test/tools:F16', messages, tools: openaiTools, tool_choice: 'none', max_tokens: 8,
    });
    assert.equal(second.choices[0].finish_reason, 'length');
    assert.equal(second.choices[0].message.tool_calls, undefined);
    assert.ok(second.choices[0].message.content.length > 0);
  });

  it('ollama: tools (with the tool_choice extension) come back whole, arguments as objects', async () => {
    const r = await ollama.chat({
      model: 'test/tools:F16', messages: [{ role: 'user', content: 'Weather in Oslo?' }],
      tools: openaiTools, tool_choice: 'required', parallel_tool_calls: false, options: { num_predict: 400, seed: 5 },
    });
    assert.equal(r.done, true);
    assert.ok(r.message.tool_calls?.length >= 1, JSON.stringify(r.message));
    for (const c of r.message.tool_calls) assertCall(c.function.name, c.function.arguments, 'ollama');

    const stream = await ollama.chat({
      model: 'test/tools:F16', messages: [{ role: 'user', content: 'Time in LA?' }], stream: true,
      tools: openaiTools, tool_choice: { type: 'function', function: { name: 'get_time' } }, parallel_tool_calls: false,
      options: { num_predict: 300, seed: 6 },
    });
    const seen = [];
    for await (const part of stream) seen.push(...(part.message.tool_calls ?? []));
    assert.ok(seen.length >= 1);
    for (const c of seen) {
      assert.equal(c.function.name, 'get_time');
      assertCall('get_time', c.function.arguments, 'ollama stream');
    }
    // A history with a call and its result (tool_name) is taken.
    const next = await ollama.chat({
      model: 'test/tools:F16', tools: openaiTools, options: { num_predict: 4 },
      messages: [{ role: 'user', content: 'Time in LA?' }, { role: 'assistant', content: '', tool_calls: [seen[0]] },
        { role: 'tool', tool_name: 'get_time', content: '09:00' }],
    });
    assert.equal(next.done, true);
  });

  it('anthropic: tool_choice any gives tool_use blocks, whole and streamed, and takes tool_result back', async () => {
    const tools = [
      { name: 'get_weather', description: 'Weather in a city', input_schema: weather },
      { name: 'get_time', description: 'Time in a zone', input_schema: clock },
    ];
    const msg = await anthropic.messages.create({
      model: 'test/tools:F16', max_tokens: 400, tools, tool_choice: { type: 'any', disable_parallel_tool_use: true },
      messages: [{ role: 'user', content: 'Weather in Rome?' }],
    });
    assert.equal(msg.stop_reason, 'tool_use');
    const uses = msg.content.filter((b) => b.type === 'tool_use');
    assert.ok(uses.length >= 1, JSON.stringify(msg.content));
    for (const u of uses) assertCall(u.name, u.input, 'anthropic');

    const streamed = await anthropic.messages.stream({
      model: 'test/tools:F16', max_tokens: 300, tools,
      tool_choice: { type: 'tool', name: 'get_time', disable_parallel_tool_use: true },
      messages: [{ role: 'user', content: 'Time?' }],
    }).finalMessage();
    assert.equal(streamed.stop_reason, 'tool_use');
    const use = streamed.content.find((b) => b.type === 'tool_use');
    assert.equal(use.name, 'get_time');
    assertCall('get_time', use.input, 'anthropic stream');  // the SDK parsed the input_json_delta pieces

    const after = await anthropic.messages.create({
      model: 'test/tools:F16', max_tokens: 6, tools,
      messages: [{ role: 'user', content: 'Time?' }, { role: 'assistant', content: streamed.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '09:00' }] }],
    });
    assert.equal(after.content[0].type, 'text');
  });

  it('responses API: function tools give function_call items, and function_call_output goes back', async () => {
    const tools = [
      { type: 'function', name: 'get_weather', description: 'Weather in a city', parameters: weather },
      { type: 'function', name: 'get_time', description: 'Time in a zone', parameters: clock },
    ];
    const r = await openai.responses.create({ model: 'test/tools:F16', input: 'Weather in Lima?', tools,
      tool_choice: 'required', parallel_tool_calls: false, max_output_tokens: 300 });
    assert.equal(r.status, 'completed');
    const calls = r.output.filter((o) => o.type === 'function_call');
    assert.equal(calls.length, 1, JSON.stringify(r.output));
    assert.match(calls[0].call_id, /^call_/);
    assertCall(calls[0].name, JSON.parse(calls[0].arguments), 'responses');

    const stream = openai.responses.stream({ model: 'test/tools:F16', input: 'Time?', tools,
      tool_choice: { type: 'function', name: 'get_time' }, parallel_tool_calls: false, max_output_tokens: 300 });
    let args = '';
    for await (const ev of stream) if (ev.type === 'response.function_call_arguments.delta') args += ev.delta;
    const final = await stream.finalResponse();
    const call = final.output.find((o) => o.type === 'function_call');
    assert.equal(call.name, 'get_time');
    assert.equal(call.arguments, args);
    assertCall('get_time', JSON.parse(args), 'responses stream');

    const next = await openai.responses.create({ model: 'test/tools:F16', previous_response_id: final.id, tools,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '09:00' }], tool_choice: 'none',
      max_output_tokens: 4 });
    assert.equal(next.output[0].type, 'message');
  });

  it('a call cut off by the length limit: each family says so, and takes the answer back', async (t) => {
    const question = [{ role: 'user', content: 'Weather in Quito?' }];
    const named = { type: 'function', function: { name: 'get_weather' } };
    const parses = (text) => { try { JSON.parse(text); return true; } catch { return false; } };
    // Greedy, so every limit below cuts the same answer at another point: the
    // first one whose call is cut inside its arguments is the case to test,
    // whichever tokens this CPU's arithmetic picks.
    let cut;
    let limit;
    for (limit = 6; limit <= 60 && !cut; limit += 2) {
      const r = await openai.chat.completions.create({ model: 'test/tools:F16', messages: question, tools: openaiTools,
        tool_choice: named, parallel_tool_calls: false, max_tokens: limit, temperature: 0 });
      const { finish_reason: finish, message } = r.choices[0];
      assert.ok(['length', 'tool_calls'].includes(finish), finish);
      if (finish === 'tool_calls') break;  // the whole call fit
      assert.equal(r.usage.completion_tokens, limit);
      const c = message.tool_calls?.[0];
      if (c && !parses(c.function.arguments)) cut = r;
    }
    assert.ok(cut, `some limit cuts the call inside its arguments (last tried ${limit})`);
    limit -= 2;
    const call = cut.choices[0].message.tool_calls[0];
    t.diagnostic(`max_tokens ${limit} cuts the call at ${JSON.stringify(call.function.arguments)}`);
    assert.equal(call.function.name, 'get_weather');
    assert.equal(cut.choices[0].finish_reason, 'length');

    // OpenAI: the conversation kiln produced goes back in, arguments as the text they are.
    const history = [...question, cut.choices[0].message, { role: 'tool', tool_call_id: call.id, content: 'cut off' }];
    const res = await postJSON(server.baseURL, '/apply-template', { model: 'test/tools:F16', messages: history, tools: openaiTools });
    assert.equal(res.status, 200);
    const { prompt } = await res.json();
    assert.match(prompt, /<tool_call>[\s\S]*get_weather[\s\S]*<\/tool_call>[\s\S]*cut off/, prompt);
    const again = await openai.chat.completions.create({ model: 'test/tools:F16', messages: history, tools: openaiTools,
      tool_choice: 'none', max_tokens: 4 });
    assert.equal(again.choices[0].message.tool_calls, undefined);

    // Ollama: arguments are objects, so a cut-off call is left out.
    const o = await ollama.chat({ model: 'test/tools:F16', messages: question, tools: openaiTools, tool_choice: named,
      parallel_tool_calls: false, options: { num_predict: limit, temperature: 0 } });
    assert.equal(o.done_reason, 'length');
    for (const c of o.message.tool_calls ?? []) assertCall(c.function.name, c.function.arguments, 'ollama, cut');

    // Anthropic: the tool_use block with the input it has (an object), stop_reason max_tokens; it goes back.
    const tools = [{ name: 'get_weather', description: 'Weather in a city', input_schema: weather }];
    const a = await anthropic.messages.create({ model: 'test/tools:F16', max_tokens: limit, tools, temperature: 0,
      tool_choice: { type: 'tool', name: 'get_weather', disable_parallel_tool_use: true }, messages: question });
    assert.equal(a.stop_reason, 'max_tokens');
    const uses = a.content.filter((b) => b.type === 'tool_use');
    for (const u of uses) assert.equal(typeof u.input, 'object');
    if (uses.length) {
      const back = await anthropic.messages.create({ model: 'test/tools:F16', max_tokens: 4, tools, messages: [...question,
        { role: 'assistant', content: a.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: uses[0].id, content: 'cut off' }] }] });
      assert.equal(back.type, 'message');
    }

    // Responses: an incomplete response, its call item incomplete too; it goes back as input items.
    const rtools = [{ type: 'function', name: 'get_weather', description: 'Weather in a city', parameters: weather }];
    const r = await openai.responses.create({ model: 'test/tools:F16', input: 'Weather in Quito?', tools: rtools,
      tool_choice: { type: 'function', name: 'get_weather' }, parallel_tool_calls: false, max_output_tokens: limit,
      temperature: 0 });
    assert.equal(r.status, 'incomplete');
    assert.equal(r.incomplete_details.reason, 'max_output_tokens');
    const fc = r.output.filter((i) => i.type === 'function_call');
    for (const i of fc) assert.equal(i.status, parses(i.arguments) ? 'completed' : 'incomplete', i.arguments);
    if (fc.length) {
      const back = await openai.responses.create({ model: 'test/tools:F16', tools: rtools, tool_choice: 'none',
        max_output_tokens: 4, input: ['Weather in Quito?', ...fc].map((i) => (typeof i === 'string' ? { role: 'user', content: i } : i))
          .concat([{ type: 'function_call_output', call_id: fc[0].call_id, output: 'cut off' }]) });
      assert.equal(back.output[0].type, 'message');
    }
  });

  it('thinking: the template decides; think asked of a model that cannot is a 400', async () => {
    const on = await (await postJSON(server.baseURL, '/apply-template',
      { model: 'test/think:F16', messages: [{ role: 'user', content: 'Hi' }] })).json();
    const off = await (await postJSON(server.baseURL, '/apply-template',
      { model: 'test/think:F16', messages: [{ role: 'user', content: 'Hi' }], think: false })).json();
    assert.ok(!on.prompt.includes('<think>'), on.prompt);
    assert.match(off.prompt, /<think>\n\n<\/think>\n\n$/, 'think false closes the thinking block up front');
    const r = await ollama.chat({ model: 'test/think:F16', messages: [{ role: 'user', content: 'Hi' }], think: true,
      options: { num_predict: 4 } });
    assert.equal(r.done, true);
    await assert.rejects(
      ollama.chat({ model: 'test/plain:F16', messages: [{ role: 'user', content: 'Hi' }], think: true }),
      (e) => e.status_code === 400 && /does not support thinking/.test(e.message));
    const o = await openai.chat.completions.create({ model: 'test/think:F16', reasoning_effort: 'none',
      messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4 });
    assert.equal(o.choices[0].finish_reason, 'length');
  });

  it('bad tool requests are 400s that name the field, in every family', async () => {
    await assert.rejects(
      openai.chat.completions.create({ model: 'test/plain:F16', messages: [{ role: 'user', content: 'x' }], tools: openaiTools }),
      (e) => e.status === 400 && e.param === 'tools' && /does not support tools/.test(e.message));
    const cases = [
      [{ tools: [{ type: 'function', function: { description: 'no name' } }] }, 'tools[0].function.name'],
      [{ tools: [{ type: 'function', function: { name: 'bad name!' } }] }, 'tools[0].function.name'],
      [{ tools: openaiTools, tool_choice: { type: 'function', function: { name: 'nope' } } }, 'tool_choice'],
      [{ tools: [], tool_choice: 'required' }, 'tool_choice'],
      [{ tools: [openaiTools[0], openaiTools[0]] }, 'tools[1].function.name'],
      [{ tools: openaiTools, tool_choice: 'sometimes' }, 'tool_choice'],
    ];
    for (const [extra, param] of cases) {
      const res = await postJSON(server.baseURL, '/v1/chat/completions',
        { model: 'test/tools:F16', messages: [{ role: 'user', content: 'x' }], ...extra });
      assert.equal(res.status, 400, JSON.stringify(extra));
      const body = await res.json();
      assert.equal(body.error.param, param, JSON.stringify(body));
    }
    const history = await postJSON(server.baseURL, '/v1/chat/completions', { model: 'test/tools:F16', messages: [
      { role: 'user', content: 'x' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_time', arguments: 42 } }] }] });
    assert.equal(history.status, 400);
    assert.equal((await history.json()).error.param, 'messages[1].tool_calls[0].function.arguments');
    const a = await postJSON(server.baseURL, '/v1/messages', { model: 'test/tools:F16', max_tokens: 4,
      tools: [{ type: 'web_search_20250305', name: 'web_search' }], messages: [{ role: 'user', content: 'x' }] });
    assert.equal(a.status, 400);
    assert.equal((await a.json()).type, 'error');
    const o = await postJSON(server.baseURL, '/api/chat', { model: 'test/tools:F16', stream: false,
      messages: [{ role: 'assistant', content: '', tool_calls: [{ function: { arguments: {} } }] }] });
    assert.equal(o.status, 400);
    assert.match((await o.json()).error, /tool_calls\[0\]/);
  });
});
