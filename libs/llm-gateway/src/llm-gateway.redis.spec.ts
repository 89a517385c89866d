import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { LlmCallOptions, LlmClient, LlmCompletion, LlmCompletionRequest } from '@agent-mesh/skills';
import { RedisStateStore, windowMember, type StateStore } from '@agent-mesh/state';
import { JournaledLlmClient, journalKey } from './journaled-llm-client';
import { RateLimitedLlmClient } from './rate-limited-llm-client';

const REDIS_URL = process.env['REDIS_URL'] || 'redis://127.0.0.1:6379';

/** The model endpoint as the gateway sees it: counts calls, answers when released (or at once). */
class CountingClient implements LlmClient {
  calls = 0;
  inFlight = 0;
  maxInFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly held = false,
    private readonly usage?: { promptTokens: number; completionTokens: number },
  ) {}

  async complete(request: LlmCompletionRequest, options: LlmCallOptions = {}): Promise<LlmCompletion> {
    this.calls++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.held) await new Promise<void>((resolve) => this.waiting.push(resolve));
      options.onToken?.('answer ');
      options.onToken?.(`#${this.calls}`);
      return { text: `answer #${this.calls}`, model: 'm', ...(this.usage ? { usage: this.usage } : {}) };
    } finally {
      this.inFlight--;
    }
  }

  /** Lets every waiting call answer; returns how many. */
  releaseAll(): number {
    const released = this.waiting.splice(0);
    for (const release of released) release();
    return released.length;
  }
}

async function eventually(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 8000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const settled = async (promise: Promise<unknown>): Promise<boolean> => {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  return done;
};

describe('llm-gateway on real Redis', () => {
  const prefix = `test:llm-gateway:${randomBytes(6).toString('hex')}:`;
  let stores: RedisStateStore[];
  let raw: Redis;
  const request: LlmCompletionRequest = { system: 'Summarize', prompt: 'some text', maxTokens: 10 };

  beforeAll(async () => {
    // Two stores: two processes' connections to the same Redis.
    stores = await Promise.all([0, 1].map(() => RedisStateStore.connect({ url: REDIS_URL, keyPrefix: prefix })));
    raw = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    const keys = await raw.keys(`${prefix}*`);
    if (keys.length > 0) await raw.del(...keys);
    raw.disconnect();
    await Promise.all(stores.map((store) => store.close()));
  });

  describe('JournaledLlmClient', () => {
    it('answers a call it has seen from the journal, in another process, without calling the model', async () => {
      const inner = new CountingClient();
      const first = new JournaledLlmClient(inner, stores[0] as StateStore, 60);
      const second = new JournaledLlmClient(inner, stores[1] as StateStore, 60);
      const answer = await first.complete(request, { callKey: 'task-1#1' });
      const tokens: string[] = [];
      const again = await second.complete(request, { callKey: 'task-1#1', onToken: (t) => tokens.push(t) });
      expect(again).toEqual(answer);
      expect(inner.calls).toBe(1);
      expect(tokens).toEqual([answer.text]);
    });

    it('stores the completion with the TTL before returning it', async () => {
      const journal = new JournaledLlmClient(new CountingClient(), stores[0] as StateStore, 120);
      await journal.complete(request, { callKey: 'task-ttl#1' });
      const ttl = await raw.pttl(`${prefix}${journalKey('task-ttl#1', request)}`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(120_000);
    });

    it('calls the model for another call key, a changed request, or no key', async () => {
      const inner = new CountingClient();
      const journal = new JournaledLlmClient(inner, stores[0] as StateStore, 60);
      await journal.complete(request, { callKey: 'task-2#1' });
      await journal.complete(request, { callKey: 'task-2#2' });
      await journal.complete({ ...request, prompt: 'other text' }, { callKey: 'task-2#1' });
      await journal.complete(request);
      await journal.complete(request);
      expect(inner.calls).toBe(5);
    });

    it('journals nothing when the call fails, so a redelivery calls again', async () => {
      let calls = 0;
      const failing: LlmClient = {
        complete: async () => {
          calls++;
          if (calls === 1) throw new Error('endpoint down');
          return { text: 'ok', model: 'm' };
        },
      };
      const journal = new JournaledLlmClient(failing, stores[0] as StateStore, 60);
      await expect(journal.complete(request, { callKey: 'task-3#1' })).rejects.toThrow('endpoint down');
      await expect(journal.complete(request, { callKey: 'task-3#1' })).resolves.toMatchObject({ text: 'ok' });
      expect(calls).toBe(2);
    });
  });

  describe('RateLimitedLlmClient', () => {
    let scope = 0;
    const limited = (
      inner: LlmClient,
      store: number,
      limits: ConstructorParameters<typeof RateLimitedLlmClient>[2],
      leaseMs = 30_000,
    ) =>
      new RateLimitedLlmClient(inner, stores[store] as StateStore, limits, {
        scope: `s${scope}`,
        leaseMs,
        maxWaitStepMs: 20,
      });
    beforeEach(() => {
      scope++;
    });

    it('holds calls from two processes to the shared concurrency limit, and lets waiters in as slots free', async () => {
      const inner = new CountingClient(true);
      const clients = [limited(inner, 0, { maxConcurrency: 2 }), limited(inner, 1, { maxConcurrency: 2 })];
      const calls = Array.from({ length: 8 }, (_, i) => (clients[i % 2] as LlmClient).complete(request));
      let done = 0;
      while (done < 8) {
        await eventually('a call to reach the model', () => inner.inFlight > 0);
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(inner.inFlight).toBeLessThanOrEqual(2);
        done += inner.releaseAll();
      }
      await Promise.all(calls);
      expect(inner.calls).toBe(8);
      expect(inner.maxInFlight).toBe(2);
      expect(await raw.zcard(`${prefix}llm:limits:s${scope}:slots`)).toBe(0);
    });

    it('holds requests per window across processes: the call over the limit waits, and its signal stops the wait', async () => {
      const inner = new CountingClient();
      const a = limited(inner, 0, { maxRpm: 3 });
      const b = limited(inner, 1, { maxRpm: 3 });
      await Promise.all([a.complete(request), b.complete(request), a.complete(request)]);
      const controller = new AbortController();
      const fourth = b.complete(request, { signal: controller.signal });
      expect(await settled(fourth)).toBe(false);
      expect(inner.calls).toBe(3);
      controller.abort(new Error('client left'));
      await expect(fourth).rejects.toThrow('client left');
      expect(inner.calls).toBe(3);
    });

    it('counts tokens before the call and corrects them to the usage after, letting the next call in', async () => {
      // 4 prompt tokens (9+9 chars) + maxTokens 10 = 13 reserved; the usage says 3.
      const inner = new CountingClient(true, { promptTokens: 2, completionTokens: 1 });
      const client = limited(inner, 0, { maxTpm: 20 });
      const first = client.complete(request);
      await eventually('the first call', () => inner.calls === 1);
      const second = client.complete(request);
      expect(await settled(second)).toBe(false);
      expect(inner.calls).toBe(1);
      inner.releaseAll();
      await first;
      await eventually('the second call', () => inner.calls === 2);
      inner.releaseAll();
      await second;
      const members = await raw.zrange(`${prefix}llm:limits:s${scope}:tpm`, 0, -1);
      expect(members.map((m) => m.split(':')[0])).toEqual(['3', '3']);
    });

    it("frees a killed worker's concurrency slot once its lease expires", async () => {
      // A slot held by a worker that died: never released, never renewed.
      await stores[1]?.reserve([
        { key: `llm:limits:s${scope}:slots`, member: windowMember(1, 'dead-worker'), limit: 1, windowMs: 300 },
      ]);
      const inner = new CountingClient();
      await limited(inner, 0, { maxConcurrency: 1 }, 300).complete(request);
      expect(inner.calls).toBe(1);
    });

    it('renews the slot of a call that outlasts its lease, so no other call gets it', async () => {
      const inner = new CountingClient(true);
      const client = limited(inner, 0, { maxConcurrency: 1 }, 150);
      const long = client.complete(request);
      await eventually('the long call', () => inner.calls === 1);
      const other = limited(inner, 1, { maxConcurrency: 1 }, 150).complete(request);
      expect(await settled(other)).toBe(false); // 300 ms: two leases' length
      expect(inner.calls).toBe(1);
      inner.releaseAll();
      await long;
      await eventually('the other call', () => inner.calls === 2);
      inner.releaseAll();
      await other;
    });

    it('passes calls straight through when no limit is set', async () => {
      const inner = new CountingClient();
      await limited(inner, 0, {}).complete(request);
      expect(await raw.keys(`${prefix}llm:limits:s${scope}:*`)).toEqual([]);
      expect(inner.calls).toBe(1);
    });
  });
});
