import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { RedisStateStore, type StateStore } from '@agent-mesh/state';

export const DEFAULT_TEST_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * The real Redis for integration tests, under a key prefix of its own. Never skips: when Redis
 * does not answer, the test fails and says how to start it.
 */
export class RedisFixture {
  readonly keyPrefix = `test:${randomBytes(6).toString('hex')}:`;
  private readonly stores: StateStore[] = [];

  constructor(readonly url: string = process.env['REDIS_URL'] || DEFAULT_TEST_REDIS_URL) {}

  /** A new connection, as a separate agent process would have. */
  async connect(): Promise<StateStore> {
    try {
      const store = await RedisStateStore.connect({ url: this.url, keyPrefix: this.keyPrefix });
      this.stores.push(store);
      return store;
    } catch (error) {
      throw new Error(
        `This test needs a real Redis at ${this.url} (REDIS_URL): ${(error as Error).message}. ` +
          'Start one with `redis-server --port 6379 --save "" --daemonize yes`, or run `bash .ci/run`.',
      );
    }
  }

  /** Closes every connection and deletes every key under this fixture's prefix. */
  async cleanup(): Promise<void> {
    await Promise.allSettled(this.stores.map((s) => s.close()));
    const redis = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${this.keyPrefix}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  }
}
