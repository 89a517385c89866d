import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { SkillInputError, type SkillContext, type SkillUsage } from '../skill';
import { OpenAiCompatibleClient, type LlmCallOptions, type LlmClient } from './llm-client';
import { costUsd, parseLlmPrices, parseMcpServers } from './llm-settings';
import { createLlmSkill, createLlmSkillFromEnv, LlmSkill, PEERS_HEADING, type LlmOutput } from './llm.skill';
import {
  startOpenAiStub,
  type OpenAiStub,
  type OpenAiStubOptions,
  type RecordedRequest,
} from './openai-compatible-stub';
import { renderTemplate, TemplateError } from './prompt-template';

/*
 * The LLM skill's features (docs/ai.md) against real servers: the OpenAI-compatible stub over
 * HTTP, and a real MCP server (the official SDK's McpServer on streamable HTTP) in this process.
 */

interface Recorded {
  readonly context: SkillContext;
  readonly usage: SkillUsage[];
  readonly tokens: string[];
}

function recording(options: { taskId?: string; stream?: boolean } = {}): Recorded {
  const usage: SkillUsage[] = [];
  const tokens: string[] = [];
  return {
    usage,
    tokens,
    context: {
      signal: new AbortController().signal,
      ...(options.taskId === undefined ? {} : { taskId: options.taskId }),
      recordUsage: (u) => usage.push(u),
      ...(options.stream ? { emit: (t: string) => tokens.push(t) } : {}),
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

const userOf = (request: RecordedRequest): string => request.messages.find((m) => m.role === 'user')?.content ?? '';

/** A real MCP server over streamable HTTP (stateless: a server and transport per request). */
async function startMcpServer(): Promise<{ url: string; calls: unknown[]; close(): Promise<void> }> {
  const calls: unknown[] = [];
  const build = (): McpServer => {
    const mcp = new McpServer({ name: 'calc', version: '1.0.0' });
    mcp.registerTool(
      'add',
      { description: 'Adds two numbers', inputSchema: { a: z.number(), b: z.number() } },
      async ({ a, b }) => {
        calls.push({ a, b });
        return { content: [{ type: 'text', text: String(a + b) }] };
      },
    );
    mcp.registerTool('fail', { description: 'Always fails', inputSchema: { why: z.string() } }, async ({ why }) => ({
      content: [{ type: 'text', text: `failed: ${why}` }],
      isError: true,
    }));
    return mcp;
  };
  const http: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const mcp = build();
        const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
        res.on('close', () => {
          void transport.close();
          void mcp.close();
        });
        await mcp.connect(transport);
        await transport.handleRequest(req, res, raw === '' ? undefined : JSON.parse(raw));
      })().catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

describe('LLM skill features against the real stub', () => {
  let stub: OpenAiStub | undefined;

  afterEach(async () => {
    await stub?.close();
    stub = undefined;
  });

  async function start(options: OpenAiStubOptions = {}): Promise<OpenAiStub> {
    stub = await startOpenAiStub(options);
    return stub;
  }

  const skillOn = (s: OpenAiStub, options: ConstructorParameters<typeof LlmSkill>[1] = {}) =>
    new LlmSkill(new OpenAiCompatibleClient({ baseUrl: s.baseUrl, model: 'm1', retryBaseDelayMs: 10 }), options);

  describe('prompt templates', () => {
    it('renders {{text}}, {{id}} and dotted {{params.x}} into the user message; the instruction is the system message', async () => {
      const s = await start();
      await skillOn(s).run(
        {
          id: 'doc-7',
          text: 'Tides rise twice a day.',
          params: {
            instruction: 'Be exact',
            prompt: 'Doc {{ id }} about {{params.topic.name}} ({{params.tags}}): {{text}}',
            topic: { name: 'oceans' },
            tags: ['sea', 'moon'],
          },
        },
        recording().context,
      );
      expect(s.chatRequests()[0].messages).toEqual([
        { role: 'system', content: 'Be exact' },
        { role: 'user', content: 'Doc doc-7 about oceans (["sea","moon"]): Tides rise twice a day.' },
      ]);
    });

    it('names every missing variable in a SkillInputError, and sends nothing', async () => {
      const s = await start();
      const error = await rejection(
        skillOn(s).run(
          {
            id: 'd',
            text: 'x',
            params: { instruction: 'i', prompt: '{{params.who}} {{title}} {{params.constructor}} {{text}}' },
          },
          recording().context,
        ),
      );
      expect(error).toBeInstanceOf(SkillInputError);
      expect((error as Error).message).toBe(
        'llm: input d: param "prompt": unknown template variables {{params.who}}, {{title}}, {{params.constructor}}',
      );
      expect(s.requests).toHaveLength(0);
    });

    it('looks values up without evaluating them', () => {
      expect(renderTemplate('{{text}}', { text: '{{id}}', id: 'x', params: {} })).toBe('{{id}}');
      expect(() => renderTemplate('{{ process.exit(1) }}', { text: '', id: '', params: {} })).toThrow(TemplateError);
      expect(() => renderTemplate('{{params.__proto__}}', { text: '', id: '', params: {} })).toThrow(
        /\{\{params.__proto__\}\}/,
      );
    });
  });

  describe('structured output', () => {
    const schema = {
      type: 'object',
      properties: { answer: { type: 'string', enum: ['yes', 'no'] }, confidence: { type: 'number' } },
      required: ['answer', 'confidence'],
      additionalProperties: false,
    };

    it('sends the schema as a strict json_schema response_format and returns the parsed JSON; `answer` is its answer', async () => {
      const s = await start({ json: () => ({ answer: 'yes', confidence: 0.9 }) });
      const out = (await skillOn(s).run(
        { id: 'q', text: 'Is water wet?', params: { instruction: 'Answer yes or no', schema } },
        recording().context,
      )) as LlmOutput;
      expect(s.chatRequests()[0].body?.['response_format']).toEqual({
        type: 'json_schema',
        json_schema: { name: 'answer', schema, strict: true },
      });
      expect(out).toMatchObject({
        text: '{"answer":"yes","confidence":0.9}',
        json: { answer: 'yes', confidence: 0.9 },
        answer: 'yes',
      });
    });

    it('a non-conforming answer is an ordinary (retried) failure carrying ajv’s errors', async () => {
      const s = await start({ json: () => ({ answer: 'maybe' }) });
      const error = await rejection(
        skillOn(s).run({ id: 'q', text: 'Is it?', params: { instruction: 'i', schema } }, recording().context),
      );
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(SkillInputError);
      expect((error as Error).message).toBe(
        'llm: input q: the answer does not match param "schema": / must have required property \'confidence\'; /answer must be equal to one of the allowed values',
      );
    });

    it('an answer that is not JSON is an ordinary failure too', async () => {
      const s = await start({ replies: [{ type: 'text', text: 'Sure, yes!' }] });
      const error = await rejection(
        skillOn(s).run({ id: 'q', text: 'Is it?', params: { instruction: 'i', schema } }, recording().context),
      );
      expect(error).not.toBeInstanceOf(SkillInputError);
      expect((error as Error).message).toBe('llm: input q: the answer is not JSON: Sure, yes!');
    });

    it('a schema that does not compile is a SkillInputError naming param "schema", before any call', async () => {
      const s = await start();
      const error = await rejection(
        skillOn(s).run(
          { id: 'q', text: 'x', params: { instruction: 'i', schema: { type: 'thing' } } },
          recording().context,
        ),
      );
      expect(error).toBeInstanceOf(SkillInputError);
      expect((error as Error).message).toMatch(/^llm: input q: param "schema" is not a valid JSON schema: /);
      expect(s.requests).toHaveLength(0);
    });
  });

  describe('usage and cost', () => {
    it('records each call’s usage with its cost from the price table; the output sums them', async () => {
      const s = await start({ replies: [{ type: 'text', text: 'one two three' }] });
      const prices = parseLlmPrices('{"m1": {"inputPerMTok": 0.15, "outputPerMTok": 0.6}}');
      const { context, usage } = recording();
      const out = await skillOn(s, { prices }).run(
        { id: 'd', text: 'four words of text', params: { instruction: 'Count' } },
        context,
      );
      // prompt: "Count" (1) + "four words of text" (4) = 5 words; completion 3 words
      const cost = 2.55e-6; // (5 × 0.15 + 3 × 0.6) / 1e6
      expect(usage).toEqual([{ model: 'm1', promptTokens: 5, completionTokens: 3, costUsd: cost }]);
      expect(out).toMatchObject({ promptTokens: 5, completionTokens: 3, costUsd: cost });
    });

    it('prices the configured model when the server reports another name; no price: no cost', async () => {
      const s = await start({
        replies: [
          { type: 'text', text: 'a b', model: 'm1-2026-01-01' },
          { type: 'text', text: 'a b', model: 'other' },
        ],
      });
      const prices = { m1: { inputPerMTok: 1, outputPerMTok: 2 } };
      const skill = createLlmSkill({ baseUrl: s.baseUrl, model: 'm1', prices });
      const first = recording();
      await skill.run({ id: 'd', text: 'x', params: { instruction: 'y' } }, first.context);
      expect(first.usage).toEqual([{ model: 'm1-2026-01-01', promptTokens: 2, completionTokens: 2, costUsd: 6e-6 }]);
      const unpriced = createLlmSkill({ baseUrl: s.baseUrl, model: 'unpriced' });
      const second = recording();
      const out = await unpriced.run({ id: 'd', text: 'x', params: { instruction: 'y' } }, second.context);
      expect(second.usage).toEqual([{ model: 'other', promptTokens: 2, completionTokens: 2 }]);
      expect(out).not.toHaveProperty('costUsd');
    });

    it('LLM_PRICES is validated, naming the setting and the model', () => {
      expect(parseLlmPrices(undefined)).toEqual({});
      expect(() => parseLlmPrices('{nope')).toThrow(/^LLM_PRICES must be JSON/);
      expect(() => parseLlmPrices('[1]')).toThrow(/^LLM_PRICES must be a JSON object/);
      expect(() => parseLlmPrices('{"gpt": {"inputPerMTok": -1, "outputPerMTok": 1}}')).toThrow(
        /^LLM_PRICES\["gpt"\] must be/,
      );
      expect(costUsd({ a: { inputPerMTok: 2, outputPerMTok: 4 } }, 'a', 1_000_000, 500_000)).toBe(4);
      expect(costUsd({}, 'toString', 1, 1)).toBeUndefined();
    });
  });

  describe('streaming', () => {
    it('streams tokens to emit (stream: true, include_usage) and returns the same completion and usage', async () => {
      const s = await start({ replies: [{ type: 'text', text: 'Rivers run to the sea.' }] });
      const { context, tokens, usage } = recording({ stream: true });
      const out = await skillOn(s).run(
        { id: 'd', text: 'Where do rivers go?', params: { instruction: 'Say' } },
        context,
      );
      expect(s.chatRequests()[0].body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
      expect(tokens).toEqual(['Rivers', ' run', ' to', ' the', ' sea.']);
      expect(out).toMatchObject({ text: 'Rivers run to the sea.', promptTokens: 5, completionTokens: 5 });
      expect(usage).toEqual([{ model: 'm1', promptTokens: 5, completionTokens: 5 }]);
    });

    it('does not stream without emit', async () => {
      const s = await start();
      await skillOn(s).run({ id: 'd', text: 'hello', params: { instruction: 'Say' } }, recording().context);
      expect(s.chatRequests()[0].body).toMatchObject({ stream: false });
      expect(s.chatRequests()[0].body).not.toHaveProperty('stream_options');
    });

    it('assembles streamed tool calls from their fragments', async () => {
      const s = await start({
        replies: [{ type: 'tool-calls', calls: [{ name: 'f', arguments: { q: 'long query' } }] }],
      });
      const tokens: string[] = [];
      const completion = await new OpenAiCompatibleClient({ baseUrl: s.baseUrl, model: 'm1' }).complete(
        { prompt: 'x', tools: [{ name: 'f', parameters: { type: 'object' } }] },
        { onToken: (t) => tokens.push(t) },
      );
      expect(completion.toolCalls).toEqual([{ id: 'call-0-0', name: 'f', arguments: '{"q":"long query"}' }]);
      expect(completion.text).toBe('');
      expect(tokens).toEqual([]);
    });

    it('a 429 before a stream is retried after Retry-After; the stub logs each request with its time', async () => {
      const s = await start({ throttle: { times: 2, retryAfter: 0.1 }, replies: [{ type: 'text', text: 'ok then' }] });
      const { context, tokens } = recording({ stream: true });
      const out = await skillOn(s).run({ id: 'd', text: 'x', params: { instruction: 'y' } }, context);
      expect(out['text']).toBe('ok then');
      expect(tokens.join('')).toBe('ok then');
      expect(s.requests).toHaveLength(3);
      expect(s.requests[1].at - s.requests[0].at).toBeGreaterThanOrEqual(95);
      expect(s.requests.every((r) => r.body?.['stream'] === true)).toBe(true);
    });
  });

  describe('MCP tools', () => {
    let mcp: Awaited<ReturnType<typeof startMcpServer>>;

    beforeAll(async () => {
      mcp = await startMcpServer();
    });
    afterAll(() => mcp.close());

    /** The model: calls calc add(2, 3) first, then answers with what the tool said. */
    const toolModel = (request: RecordedRequest) => {
      const tool = request.messages.find((m) => m.role === 'tool');
      return tool ? { type: 'text' as const, text: `The sum is ${tool.content}.` } : undefined;
    };

    it('lists the servers’ tools as functions, calls the one the model asks for and answers with its result', async () => {
      const s = await start({
        handler: (request) =>
          toolModel(request) ?? { type: 'tool-calls', calls: [{ name: 'calc__add', arguments: { a: 2, b: 3 } }] },
      });
      const keys: (string | undefined)[] = [];
      const client = new OpenAiCompatibleClient({ baseUrl: s.baseUrl, model: 'm1' });
      const keyed: LlmClient = {
        complete: (request, options?: LlmCallOptions) => {
          keys.push(options?.callKey);
          return client.complete(request, options);
        },
      };
      const { context, usage } = recording({ taskId: 'wf:root' });
      const skill = new LlmSkill(keyed, { mcpServers: { calc: mcp.url } });
      const out = (await skill.run(
        { id: 'd', text: 'What is 2 + 3?', params: { instruction: 'Use tools', tools: ['calc'] } },
        context,
      )) as LlmOutput;

      const [first, second] = s.chatRequests();
      expect(first.body?.['tools']).toEqual([
        {
          type: 'function',
          function: {
            name: 'calc__add',
            description: 'Adds two numbers',
            parameters: expect.objectContaining({
              type: 'object',
              properties: { a: { type: 'number' }, b: { type: 'number' } },
              required: ['a', 'b'],
            }),
          },
        },
        expect.objectContaining({ function: expect.objectContaining({ name: 'calc__fail' }) }),
      ]);
      expect(second.messages.slice(2)).toEqual([
        {
          role: 'assistant',
          content: '',
          toolCalls: [{ id: 'call-0-0', name: 'calc__add', arguments: '{"a":2,"b":3}' }],
        },
        { role: 'tool', content: '5', toolCallId: 'call-0-0' },
      ]);
      expect(mcp.calls).toContainEqual({ a: 2, b: 3 });
      expect(out.text).toBe('The sum is 5.');
      expect(out.calls).toBe(2);
      expect(out.toolCalls).toEqual([
        { server: 'calc', name: 'add', arguments: { a: 2, b: 3 }, result: '5', ms: expect.any(Number) },
      ]);
      expect(keys).toEqual(['wf:root#1', 'wf:root#2']);
      expect(usage).toHaveLength(2);
    });

    it('hands a tool’s error and an unknown function back to the model, and records them', async () => {
      let n = 0;
      const s = await start({
        handler: () => {
          n += 1;
          return n === 1
            ? {
                type: 'tool-calls',
                calls: [
                  { name: 'calc__fail', arguments: { why: 'on purpose' } },
                  { name: 'calc__nope', arguments: {} },
                ],
              }
            : { type: 'text', text: 'gave up' };
        },
      });
      const out = (await skillOn(s, { mcpServers: { calc: mcp.url } }).run(
        { id: 'd', text: 'x', params: { instruction: 'y', tools: ['calc'] } },
        recording().context,
      )) as LlmOutput;
      expect(out.toolCalls).toEqual([
        {
          server: 'calc',
          name: 'fail',
          arguments: { why: 'on purpose' },
          result: 'failed: on purpose',
          isError: true,
          ms: expect.any(Number),
        },
        {
          server: 'calc',
          name: 'calc__nope',
          arguments: {},
          result: 'unknown tool calc__nope',
          isError: true,
          ms: expect.any(Number),
        },
      ]);
      expect(
        s
          .chatRequests()[1]
          .messages.filter((m) => m.role === 'tool')
          .map((m) => m.content),
      ).toEqual(['failed: on purpose', 'unknown tool calc__nope']);
    });

    it('stops a model that keeps calling tools after maxToolRounds, as an ordinary failure', async () => {
      const s = await start({ toolCalls: () => [{ name: 'calc__add', arguments: { a: 1, b: 1 } }] });
      const error = await rejection(
        skillOn(s, { mcpServers: { calc: mcp.url } }).run(
          { id: 'd', text: 'x', params: { instruction: 'y', tools: ['calc'], maxToolRounds: 2 } },
          recording().context,
        ),
      );
      expect(error).not.toBeInstanceOf(SkillInputError);
      expect((error as Error).message).toBe('llm: the model still called tools after 2 rounds (param "maxToolRounds")');
      expect(s.chatRequests()).toHaveLength(3);
    });

    it('refuses a server the operator did not configure (no URLs from specs)', async () => {
      const s = await start();
      const error = await rejection(
        skillOn(s, { mcpServers: { calc: mcp.url } }).run(
          { id: 'd', text: 'x', params: { instruction: 'y', tools: ['http://evil.example/mcp'] } },
          recording().context,
        ),
      );
      expect(error).toBeInstanceOf(SkillInputError);
      expect((error as Error).message).toBe(
        'llm: input d: param "tools" names MCP servers that are not configured: http://evil.example/mcp (LLM_MCP_SERVERS has calc)',
      );
      expect(s.requests).toHaveLength(0);
    });

    it('an unreachable server is an ordinary failure naming it', async () => {
      const s = await start();
      const error = await rejection(
        skillOn(s, { mcpServers: { down: 'http://127.0.0.1:1/mcp' } }).run(
          { id: 'd', text: 'x', params: { instruction: 'y', tools: ['down'] } },
          recording().context,
        ),
      );
      expect(error).not.toBeInstanceOf(SkillInputError);
      expect((error as Error).message).toMatch(/^MCP server down \(http:\/\/127\.0\.0\.1:1\/mcp\) is unreachable: /);
    });

    it('LLM_MCP_SERVERS is validated, naming the setting', () => {
      expect(parseMcpServers('calc=http://127.0.0.1:9/mcp, web=https://tools.example/mcp')).toEqual({
        calc: 'http://127.0.0.1:9/mcp',
        web: 'https://tools.example/mcp',
      });
      expect(parseMcpServers('')).toEqual({});
      expect(() => parseMcpServers('Calc=http://x/mcp')).toThrow(/^LLM_MCP_SERVERS entries must be name=/);
      expect(() => parseMcpServers('calc=ftp://x')).toThrow(/^LLM_MCP_SERVERS: server calc needs an http\(s\) URL/);
      expect(() => parseMcpServers('a=http://x/1,a=http://x/2')).toThrow(/names server a twice/);
    });
  });

  describe('solver rounds', () => {
    it('puts its own previous answer and the other solvers’ answers into the prompt, and echoes round and solver', async () => {
      const s = await start({ json: () => ({ answer: 42 }) });
      const out = await skillOn(s).run(
        {
          id: 'q',
          text: 'How many words?',
          params: {
            instruction: 'Estimate',
            schema: { type: 'object', properties: { answer: { type: 'number' } }, required: ['answer'] },
            round: 2,
            solver: 1,
            peers: [
              { answer: 40, solver: 0, round: 1 },
              { answer: 30, solver: 1, round: 1 },
              { text: 'about fifty', solver: 2 },
            ],
          },
        },
        recording().context,
      );
      expect(userOf(s.chatRequests()[0])).toBe(
        [
          'How many words?',
          '',
          `## ${PEERS_HEADING}`,
          'Your previous answer: 30',
          'Answers of the other solvers:',
          '- solver 0: 40',
          '- solver 2: about fifty',
          'Consider these answers, then give your own best answer.',
        ].join('\n'),
      );
      expect(out).toMatchObject({ answer: 42, json: { answer: 42 }, round: 2, solver: 1 });
    });

    it('round 1 (no peers) is the plain prompt', async () => {
      const s = await start();
      await skillOn(s).run(
        { id: 'q', text: 'How many?', params: { instruction: 'Estimate', round: 1, solver: 0, peers: [] } },
        recording().context,
      );
      expect(userOf(s.chatRequests()[0])).toBe('How many?');
    });
  });

  describe('createLlmSkill', () => {
    it('calls the client wrapClient returns', async () => {
      const s = await start();
      const seen: string[] = [];
      const skill = createLlmSkill(
        { baseUrl: s.baseUrl, model: 'm1' },
        {
          wrapClient: (inner) => ({
            complete: (request, options) => {
              seen.push(request.prompt);
              return inner.complete(request, options);
            },
          }),
        },
      );
      const out = await skill.run(
        { id: 'd', text: 'wrapped call here', params: { instruction: 'i' } },
        recording().context,
      );
      expect(seen).toEqual(['wrapped call here']);
      expect(out['text']).toBe('echo:wrapped call here');
      expect(skill.description).toContain('model m1');
    });

    it('createLlmSkillFromEnv reads LLM_PRICES and LLM_MCP_SERVERS and names a bad one', () => {
      const env = { LLM_BASE_URL: 'http://127.0.0.1:1/v1', LLM_MODEL: 'm' };
      expect(createLlmSkillFromEnv({ ...env, LLM_MCP_SERVERS: 'calc=http://127.0.0.1:2/mcp' })?.description).toContain(
        'tools (MCP servers: calc)',
      );
      expect(() => createLlmSkillFromEnv({ ...env, LLM_PRICES: 'x' })).toThrow(/^LLM_PRICES/);
    });
  });
});
