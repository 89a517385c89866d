import { SkillInputError, type SkillContext } from '../skill';
import {
  LlmRequestError,
  LlmResponseError,
  OpenAiCompatibleClient,
  parseRetryAfter,
  type LlmClient,
} from './llm-client';
import { createLlmSkillFromEnv, LlmSkill } from './llm.skill';
import { echoText, startOpenAiStub, type OpenAiStub, type OpenAiStubOptions } from './openai-compatible-stub';

const TEXT = 'Rivers carry water to the sea and shape the valleys they cross.';
const ECHO = 'echo:Rivers carry water to the';

function live(): SkillContext {
  return { signal: new AbortController().signal };
}

/** Captures a rejection (with the time it took) without failing the test on it. */
async function rejection(promise: Promise<unknown>): Promise<{ error: unknown; elapsedMs: number }> {
  const started = Date.now();
  try {
    await promise;
  } catch (error) {
    return { error, elapsedMs: Date.now() - started };
  }
  throw new Error('expected the promise to reject');
}

describe('LLM skill against a real OpenAI-compatible HTTP stub', () => {
  let stub: OpenAiStub | undefined;

  afterEach(async () => {
    await stub?.close();
    stub = undefined;
  });

  async function start(options: OpenAiStubOptions = {}): Promise<OpenAiStub> {
    stub = await startOpenAiStub(options);
    return stub;
  }

  function client(
    s: OpenAiStub,
    overrides: Partial<ConstructorParameters<typeof OpenAiCompatibleClient>[0]> = {},
  ): OpenAiCompatibleClient {
    return new OpenAiCompatibleClient({ baseUrl: s.baseUrl, model: 'test-model', retryBaseDelayMs: 10, ...overrides });
  }

  it('sends model, system + user messages, temperature, max_tokens and the bearer token; returns text and usage', async () => {
    const s = await start();
    const skill = new LlmSkill(client(s, { apiKey: 'sk-test' }));
    const out = await skill.run(
      { id: 'd1', text: TEXT, params: { instruction: 'Summarize in one sentence', temperature: 0.2, maxTokens: 64 } },
      live(),
    );
    expect(out).toEqual({
      text: ECHO,
      answer: ECHO,
      model: 'test-model',
      calls: 1,
      promptTokens: 4 + 12,
      completionTokens: 5,
    });
    expect(s.requests).toHaveLength(1);
    const [req] = s.requests;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.headers['authorization']).toBe('Bearer sk-test');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.body).toMatchObject({
      model: 'test-model',
      messages: [
        { role: 'system', content: 'Summarize in one sentence' },
        { role: 'user', content: TEXT },
      ],
      temperature: 0.2,
      max_tokens: 64,
    });
  });

  it('sends no Authorization header and no optional fields when not configured; accepts a trailing slash', async () => {
    const s = await start({ replies: [{ type: 'text', text: 'Short.', model: 'served-model', omitUsage: true }] });
    const skill = new LlmSkill({ baseUrl: `${s.baseUrl}/`, model: 'test-model' });
    const out = await skill.run({ id: 'd1', text: TEXT, params: { instruction: 'Be brief' } }, live());
    expect(out).toEqual({ text: 'Short.', answer: 'Short.', model: 'served-model', calls: 1 });
    expect(s.requests[0].headers['authorization']).toBeUndefined();
    expect(s.requests[0].body).not.toHaveProperty('temperature');
    expect(s.requests[0].body).not.toHaveProperty('max_tokens');
  });

  it('retries after a 500 and then succeeds', async () => {
    const s = await start({ replies: [{ type: 'error', status: 500, message: 'boom' }] });
    const result = await client(s).complete({ prompt: 'one two three four five six' });
    expect(result.text).toBe('echo:one two three four five');
    expect(s.requests).toHaveLength(2);
  });

  it('gives up after maxRetries on repeated 503, with the status and server message', async () => {
    const s = await start({ handler: () => ({ type: 'error', status: 503, message: 'overloaded' }) });
    const { error } = await rejection(client(s, { maxRetries: 2 }).complete({ prompt: 'x' }));
    expect(error).toBeInstanceOf(LlmRequestError);
    const e = error as LlmRequestError;
    expect(e.status).toBe(503);
    expect(e.attempts).toBe(3);
    expect(e.message).toMatch(/HTTP 503: overloaded.*gave up after 3 attempts/);
    expect(s.requests).toHaveLength(3);
  });

  it('honours Retry-After on 429', async () => {
    const s = await start({
      replies: [{ type: 'error', status: 429, message: 'slow down', errorType: 'rate_limit', retryAfter: 1 }],
    });
    const started = Date.now();
    const result = await client(s).complete({ prompt: 'hello there' });
    expect(result.text).toBe('echo:hello there');
    expect(s.requests).toHaveLength(2);
    expect(s.requests[1].receivedAt - s.requests[0].receivedAt).toBeGreaterThanOrEqual(990);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
  });

  it('spreads the retries of clients told the same Retry-After (jitter), none before it', async () => {
    const s = await start({ throttle: { times: 6, retryAfter: 0.4 } });
    await Promise.all(Array.from({ length: 6 }, (_, i) => client(s).complete({ prompt: `caller ${i}` })));
    const firstAt = new Map<string, number>();
    const retryDelays: number[] = [];
    for (const request of s.requests) {
      const prompt = JSON.stringify(request.body);
      const first = firstAt.get(prompt);
      if (first === undefined) firstAt.set(prompt, request.receivedAt);
      else retryDelays.push(request.receivedAt - first);
    }
    expect(retryDelays).toHaveLength(6);
    for (const delay of retryDelays) expect(delay).toBeGreaterThanOrEqual(390);
    expect(Math.max(...retryDelays) - Math.min(...retryDelays)).toBeGreaterThan(0);
  });

  it('caps a long Retry-After at maxRetryDelayMs', async () => {
    const s = await start({ replies: [{ type: 'error', status: 429, retryAfter: 120 }] });
    const started = Date.now();
    await client(s, { maxRetryDelayMs: 50 }).complete({ prompt: 'hello' });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(s.requests).toHaveLength(2);
  });

  it('does not retry a 400 and reports the server message', async () => {
    const s = await start({
      replies: [{ type: 'error', status: 400, message: 'max_tokens is too large', errorType: 'invalid_request_error' }],
    });
    const { error } = await rejection(client(s).complete({ prompt: 'x' }));
    expect(error).toBeInstanceOf(LlmRequestError);
    const e = error as LlmRequestError;
    expect(e.status).toBe(400);
    expect(e.attempts).toBe(1);
    expect(e.retryable).toBe(false);
    expect(e.serverMessage).toBe('max_tokens is too large (invalid_request_error)');
    expect(e.message).toContain('HTTP 400: max_tokens is too large');
    expect(s.requests).toHaveLength(1);
  });

  it('does not retry a 401; the skill passes it through, while a 400 becomes a SkillInputError', async () => {
    const s = await start({
      replies: [
        { type: 'error', status: 401, message: 'Incorrect API key provided' },
        { type: 'error', status: 400, message: 'context length exceeded' },
      ],
    });
    const skill = new LlmSkill(client(s));
    const input = { id: 'd1', text: TEXT, params: { instruction: 'Summarize' } };
    const first = await rejection(skill.run(input, live()));
    expect(first.error).toBeInstanceOf(LlmRequestError);
    expect((first.error as Error).message).toContain('Incorrect API key provided');
    const second = await rejection(skill.run(input, live()));
    expect(second.error).toBeInstanceOf(SkillInputError);
    expect((second.error as Error).message).toMatch(/^llm: input d1: .*context length exceeded/);
    expect(s.requests).toHaveLength(2);
  });

  it('times out each attempt, retries, then fails naming the timeout', async () => {
    const s = await start({ handler: () => ({ type: 'echo', delayMs: 2000 }) });
    const { error, elapsedMs } = await rejection(
      client(s, { timeoutMs: 100, maxRetries: 1 }).complete({ prompt: 'x' }),
    );
    expect(error).toBeInstanceOf(LlmRequestError);
    expect((error as Error).message).toMatch(/timed out after 100 ms \(gave up after 2 attempts\)/);
    expect(s.requests).toHaveLength(2);
    expect(elapsedMs).toBeLessThan(1500);
  });

  it('recovers when only the first attempt is slow', async () => {
    const s = await start({ replies: [{ type: 'echo', delayMs: 1000 }] });
    const result = await client(s, { timeoutMs: 100 }).complete({ prompt: 'quick now' });
    expect(result.text).toBe('echo:quick now');
    expect(s.requests).toHaveLength(2);
  });

  it('stops at once when the caller aborts mid-request, without retrying', async () => {
    const s = await start({ handler: () => ({ type: 'echo', delayMs: 3000 }) });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('task cancelled')), 50);
    const { error, elapsedMs } = await rejection(
      client(s, { timeoutMs: 5000 }).complete({ prompt: 'x' }, { signal: controller.signal }),
    );
    expect((error as Error).message).toBe('task cancelled');
    expect(elapsedMs).toBeLessThan(1000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(s.requests).toHaveLength(1);
  });

  it('stops at once when the caller aborts during the backoff', async () => {
    const s = await start({ replies: [{ type: 'error', status: 500 }] });
    const controller = new AbortController();
    const pending = client(s, { retryBaseDelayMs: 5000 }).complete({ prompt: 'x' }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const { error, elapsedMs } = await rejection(pending);
    expect((error as Error).name).toBe('AbortError');
    expect(elapsedMs).toBeLessThan(1000);
    expect(s.requests).toHaveLength(1);
  });

  it('sends nothing when the signal is already aborted', async () => {
    const s = await start();
    const controller = new AbortController();
    controller.abort();
    const skill = new LlmSkill(client(s));
    await expect(
      skill.run({ id: 'd1', text: TEXT, params: { instruction: 'x' } }, { signal: controller.signal }),
    ).rejects.toThrow();
    expect(s.requests).toHaveLength(0);
  });

  it.each([
    ['a body that is not JSON', '{"choices": [', /not JSON/],
    ['no choices', '{"object":"chat.completion","choices":[]}', /"choices" is missing or empty/],
    [
      'a non-string content',
      '{"choices":[{"message":{"role":"assistant","content":null}}]}',
      /"choices\[0\]\.message\.content" is not a string/,
    ],
  ])('rejects a 200 with %s, without retrying', async (_label, body, pattern) => {
    const s = await start({ replies: [{ type: 'raw', body }] });
    const { error } = await rejection(client(s).complete({ prompt: 'x' }));
    expect(error).toBeInstanceOf(LlmResponseError);
    expect((error as Error).message).toMatch(pattern);
    expect(s.requests).toHaveLength(1);
  });

  it('retries network errors, then fails naming the cause', async () => {
    const s = await start();
    const baseUrl = s.baseUrl;
    await s.close();
    const { error } = await rejection(
      new OpenAiCompatibleClient({ baseUrl, model: 'm', maxRetries: 1, retryBaseDelayMs: 10 }).complete({
        prompt: 'x',
      }),
    );
    expect(error).toBeInstanceOf(LlmRequestError);
    expect((error as Error).message).toMatch(/fetch failed.*ECONNREFUSED.*gave up after 2 attempts/);
  });

  it('the stub answers 404 for other routes', async () => {
    const s = await start();
    const res = await fetch(`${s.baseUrl}/models`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { message: 'No route for GET /v1/models', type: 'invalid_request_error' },
    });
    const { error } = await rejection(
      new OpenAiCompatibleClient({ baseUrl: `${s.baseUrl}/nope`, model: 'm' }).complete({ prompt: 'x' }),
    );
    expect((error as LlmRequestError).status).toBe(404);
    expect(s.chatRequests()).toHaveLength(0);
  });

  it('the stub holds replies (holdMs), counts the calls in flight and logs the usage it reported', async () => {
    const s = await start({ holdMs: 200 });
    const client = new OpenAiCompatibleClient({ baseUrl: s.baseUrl, model: 'stub-model' });
    const calls = [client.complete({ prompt: 'one two' }), client.complete({ prompt: 'three' })];
    // Both wait at the stub together until their hold is over.
    await new Promise<void>((resolve) => {
      const poll = (): unknown => (s.inFlight() === 2 ? resolve() : setTimeout(poll, 5));
      poll();
    });
    const [first, second] = await Promise.all(calls);
    expect([s.inFlight(), s.maxInFlight()]).toEqual([0, 2]);
    expect(s.reportedUsage.map((u) => u.prompt_tokens).sort()).toEqual([1, 2]);
    expect(s.reportedUsage.map((u) => [u.prompt_tokens, u.completion_tokens]).sort()).toEqual(
      [
        [first.usage?.promptTokens, first.usage?.completionTokens],
        [second.usage?.promptTokens, second.usage?.completionTokens],
      ].sort(),
    );
  });
});

describe('LlmSkill params and combine (no network)', () => {
  const calls: unknown[] = [];
  const fake: LlmClient = {
    complete: async (request) => {
      calls.push(request);
      return { text: `done:${request.prompt}`, model: 'fake' };
    },
  };
  const skill = new LlmSkill(fake);

  it.each([
    [undefined, /"instruction" is required/],
    [{}, /"instruction" must be a non-empty string/],
    [{ instruction: '  ' }, /"instruction" must be a non-empty string/],
    [{ instruction: 3 }, /"instruction" must be a non-empty string/],
    [{ instruction: 'x', temperature: 2.5 }, /"temperature" must be a number from 0 to 2/],
    [{ instruction: 'x', temperature: '1' }, /"temperature"/],
    [{ instruction: 'x', maxTokens: 0 }, /"maxTokens" must be an integer from 1 to 8192/],
    [{ instruction: 'x', maxTokens: 8193 }, /"maxTokens"/],
    [{ instruction: 'x', maxTokens: 1.5 }, /"maxTokens"/],
  ])('rejects params %j with SkillInputError', async (params, pattern) => {
    const input = { id: 'd1', text: TEXT, params: params as Record<string, unknown> | undefined };
    const { error } = await rejection(skill.run(input, live()));
    expect(error).toBeInstanceOf(SkillInputError);
    expect((error as Error).message).toMatch(pattern);
  });

  it('rejects empty text with SkillInputError', async () => {
    await expect(skill.run({ id: 'd1', text: ' ', params: { instruction: 'x' } }, live())).rejects.toBeInstanceOf(
      SkillInputError,
    );
  });

  it('accepts the bounds and passes them to the client', async () => {
    calls.length = 0;
    const out = await skill.run(
      { id: 'd1', text: 'hi', params: { instruction: 'x', temperature: 0, maxTokens: 8192 } },
      live(),
    );
    expect(out).toEqual({ text: 'done:hi', answer: 'done:hi', model: 'fake', calls: 1 });
    expect(calls).toEqual([{ system: 'x', prompt: 'hi', temperature: 0, maxTokens: 8192 }]);
  });

  it('combines texts in branch order, separated by blank lines', () => {
    const combined = skill.combine([
      { inputId: 'b', output: { text: 'Second doc first.', answer: 'Second doc first.', model: 'm' } },
      { inputId: 'a', output: { text: 'Then this one.', model: 'm', promptTokens: 3, completionTokens: 2 } },
    ]);
    expect(combined).toEqual({
      outputs: [
        { inputId: 'b', text: 'Second doc first.', answer: 'Second doc first.' },
        { inputId: 'a', text: 'Then this one.', answer: null },
      ],
      text: 'Second doc first.\n\nThen this one.',
    });
    expect(skill.combine([])).toEqual({ outputs: [], text: '' });
  });

  it('combine fails loudly on a malformed output', () => {
    expect(() => skill.combine([{ inputId: 'x', output: { model: 'm' } }])).toThrow(
      /llm\.combine: output of input x is malformed/,
    );
  });

  it('has the name llm', () => {
    expect(skill.name).toBe('llm');
    expect(new LlmSkill({ baseUrl: 'http://127.0.0.1:1/v1', model: 'qwen' }).description).toContain('model qwen');
  });
});

describe('createLlmSkillFromEnv', () => {
  it('returns undefined without LLM_BASE_URL', () => {
    expect(createLlmSkillFromEnv({})).toBeUndefined();
    expect(createLlmSkillFromEnv({ LLM_BASE_URL: '  ', LLM_MODEL: 'm' })).toBeUndefined();
  });

  it('requires LLM_MODEL when LLM_BASE_URL is set', () => {
    expect(() => createLlmSkillFromEnv({ LLM_BASE_URL: 'http://127.0.0.1:11434/v1' })).toThrow(/LLM_MODEL/);
    expect(() => createLlmSkillFromEnv({ LLM_BASE_URL: 'http://127.0.0.1:11434/v1', LLM_MODEL: ' ' })).toThrow(
      /LLM_MODEL/,
    );
  });

  it('rejects an invalid LLM_BASE_URL', () => {
    expect(() => createLlmSkillFromEnv({ LLM_BASE_URL: 'localhost:11434', LLM_MODEL: 'm' })).toThrow(/LLM_BASE_URL/);
  });

  it('builds a working skill, with LLM_API_KEY as the bearer token', async () => {
    const stub = await startOpenAiStub();
    try {
      const skill = createLlmSkillFromEnv({
        LLM_BASE_URL: stub.baseUrl,
        LLM_MODEL: 'env-model',
        LLM_API_KEY: 'sk-env',
      });
      expect(skill).toBeInstanceOf(LlmSkill);
      const out = await skill!.run({ id: 'd1', text: TEXT, params: { instruction: 'Summarize' } }, live());
      expect(out['text']).toBe(echoText(TEXT));
      expect(stub.requests[0].body?.['model']).toBe('env-model');
      expect(stub.requests[0].headers['authorization']).toBe('Bearer sk-env');
    } finally {
      await stub.close();
    }
  });
});

describe('parseRetryAfter', () => {
  it('parses seconds and HTTP dates', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter('0.5')).toBe(500);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
