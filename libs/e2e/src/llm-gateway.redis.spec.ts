import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { gatewayLlmClient } from '@agent-mesh/llm-gateway';
import { OpenAiCompatibleClient } from '@agent-mesh/skills';
import {
  startOpenAiStub,
  type OpenAiStub,
  type OpenAiStubOptions,
  type RecordedRequest,
} from '@agent-mesh/skills/testing';
import { eventually, RedisFixture } from '@agent-mesh/testing';

/*
 * The LLM gateway (libs/llm-gateway) between real processes, a real HTTP endpoint and real
 * Redis: ten client processes held to one shared limit, a completion paid once though the
 * process that got it was killed with SIGKILL before finishing, and a 429 retried after its
 * Retry-After. Each client process runs the same gateway chain the worker's LLM skill runs
 * (support/llm-client-process.ts), in an OS process of its own: the limits across separate
 * processes, and a real SIGKILL, with a short rate window. Ten real workers (in-process Nest
 * apps, the runtime's own wiring) held to a limit are in llm-gateway-workers.redis.spec.ts.
 */
const WORKSPACE = join(__dirname, '..', '..', '..');
const CLIENT = 'libs/e2e/src/support/llm-client-process.ts';

interface ClientProcess {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number | null>;
}

function startClient(env: Record<string, string>): ClientProcess {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', CLIENT], {
    cwd: WORKSPACE,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      if (code !== 0 && code !== null) process.stderr.write(`client ${child.pid} exited ${code}: ${stderr}\n`);
      resolve(code);
    }),
  );
  return { child, lines, exited };
}

/** `answer <n> to <prompt>`: the n-th request's own answer, so a journaled answer is told from a new one. */
const numbered = (request: RecordedRequest) => ({
  type: 'text' as const,
  text: `answer ${request.index + 1} to ${request.messages.find((m) => m.role === 'user')?.content ?? ''}`,
});

describe('the LLM gateway across processes (real Redis, real HTTP)', () => {
  const redis = new RedisFixture();
  let stub: OpenAiStub | undefined;
  const started: ClientProcess[] = [];

  const startStub = async (options: OpenAiStubOptions = {}): Promise<OpenAiStub> =>
    (stub = await startOpenAiStub({ handler: numbered, ...options }));

  afterEach(async () => {
    for (const { child } of started.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await stub?.close();
  });

  afterAll(async () => {
    await redis.cleanup();
  });

  it('holds ten processes to one shared request rate and concurrency', async () => {
    const windowMs = 3000;
    const maxRpm = 4;
    const stub = await startStub({ holdMs: 40 });
    const env = {
      STUB_URL: stub.baseUrl,
      REDIS_URL: redis.url,
      KEY_PREFIX: `${redis.keyPrefix}limits:`,
      CALLS: '1',
      LLM_MAX_RPM: String(maxRpm),
      LLM_MAX_CONCURRENCY: '2',
      WINDOW_MS: String(windowMs),
      STAMP: '1',
    };
    const clients = Array.from({ length: 10 }, () => startClient(env));
    started.push(...clients);
    expect(await Promise.all(clients.map((c) => c.exited))).toEqual(clients.map(() => 0));
    expect(clients.flatMap((c) => c.lines.filter((l) => l.startsWith('answered')))).toHaveLength(10);

    // When the gateway let each request go (stamped in it by the client process), in order.
    const sent = stub
      .prompts()
      .map((prompt) => Number(prompt.split('@')[1]))
      .sort((a, b) => a - b);
    expect(sent).toHaveLength(10);
    // Never more than the limit in a window: counted from each request over the window, less a
    // margin for the time from a grant in Redis to the stamp in a process of a loaded machine.
    const counted = windowMs - 500;
    const perWindow = sent.map((from) => sent.filter((at) => at >= from && at < from + counted).length);
    expect(Math.max(...perWindow)).toBeLessThanOrEqual(maxRpm);
    // Ten requests at four per window: the ninth goes at least two windows after the first.
    expect((sent[8] ?? 0) - (sent[0] ?? 0)).toBeGreaterThanOrEqual(2 * counted);
    // The endpoint never had more than the concurrency limit in flight.
    expect(stub.maxInFlight()).toBeLessThanOrEqual(2);
  }, 120_000);

  it('pays for a call once though the process that made it was killed before finishing', async () => {
    const stub = await startStub();
    const env = {
      STUB_URL: stub.baseUrl,
      REDIS_URL: redis.url,
      KEY_PREFIX: `${redis.keyPrefix}journal:`,
      CALL_KEY: 'wf-1:root:task:doc-1#1',
      PROMPT: 'summarize this',
    };
    const doomed = startClient({ ...env, HOLD_AFTER: '1' });
    started.push(doomed);
    await eventually('the first process to hold its answer', async () =>
      doomed.lines.includes('holding') ? true : undefined,
    );
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    expect(stub.requests).toHaveLength(1);

    // The redelivery: another process runs the same call (same call key, same request).
    const again = startClient(env);
    started.push(again);
    expect(await again.exited).toBe(0);
    expect(stub.requests).toHaveLength(1);
    expect(again.lines).toEqual(doomed.lines.filter((l) => l.startsWith('answered')));
  }, 60_000);

  it('retries a 429 after its Retry-After', async () => {
    const store = await redis.connect();
    const stub = await startStub({ throttle: { times: 1, retryAfter: 1 } });
    const client = gatewayLlmClient(new OpenAiCompatibleClient({ baseUrl: stub.baseUrl, model: 'stub-model' }), store, {
      limits: { maxRpm: 100 },
      journalTtlSeconds: 60,
      scope: 'retry-after',
    });
    const completion = await client.complete({ prompt: 'hello' });
    expect(completion.text).toBe('answer 2 to hello');
    expect(stub.requests).toHaveLength(2);
    expect((stub.requests[1]?.at ?? 0) - (stub.requests[0]?.at ?? 0)).toBeGreaterThanOrEqual(1000);
  });
});
