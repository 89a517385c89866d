import { createStateStore } from './create-state-store';
import { MemoryStateStore } from './memory/memory-state-store';
import { RedisStateStore } from './redis/redis-state-store';
import { REDIS_URL, uniquePrefix } from './testing/redis-test-env';

describe('createStateStore', () => {
  it('returns the memory store without a redisUrl (or a blank one)', async () => {
    for (const config of [{}, { redisUrl: '' }, { redisUrl: '  ' }]) {
      const store = await createStateStore(config);
      expect(store).toBeInstanceOf(MemoryStateStore);
      expect(store.driver).toBe('memory');
      await store.close();
    }
  });

  it('returns a connected Redis store with the given prefix when redisUrl is set', async () => {
    const keyPrefix = uniquePrefix();
    const store = await createStateStore({ redisUrl: REDIS_URL, keyPrefix }).catch((error: unknown) => {
      throw new Error(
        `Redis is required at ${REDIS_URL} (start one: docker run -d -p 6379:6379 redis:7-alpine): ${String(error)}`,
      );
    });
    try {
      expect(store).toBeInstanceOf(RedisStateStore);
      expect(store.driver).toBe('redis');
      expect((store as RedisStateStore).keyPrefix).toBe(keyPrefix);
      await expect(store.ping()).resolves.toBe(true);
    } finally {
      await store.close();
    }
  });

  it('rejects with the clear error when Redis does not answer', async () => {
    await expect(createStateStore({ redisUrl: 'redis://127.0.0.1:1' })).rejects.toThrow(
      /^Redis at redis:\/\/127\.0\.0\.1:1 did not answer/,
    );
  });
});
