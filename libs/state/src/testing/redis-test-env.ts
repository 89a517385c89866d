import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisStateStore, type RedisStateStoreOptions } from '../redis/redis-state-store';

/** Redis for the tests: REDIS_URL, default the local one. */
export const REDIS_URL = process.env['REDIS_URL'] || 'redis://127.0.0.1:6379';

/** A prefix no other run uses: `test:<random>:`. */
export const uniquePrefix = (): string => `test:${randomBytes(6).toString('hex')}:`;

/** Connects, or fails (never skips) saying Redis is required and how to start it. */
export async function connectTestStore(
  options: Omit<RedisStateStoreOptions, 'url'>,
  url: string = REDIS_URL,
): Promise<RedisStateStore> {
  try {
    return await RedisStateStore.connect({ url, ...options });
  } catch (error) {
    throw new Error(
      `These tests require Redis at ${url}, and it did not answer ` +
        `(${error instanceof Error ? error.message : String(error)}). Start one with ` +
        '`docker run -d --name agentmesh-redis -p 6379:6379 redis:7-alpine` (or `redis-server --port 6379`), ' +
        'or point REDIS_URL at a running Redis.',
      { cause: error },
    );
  }
}

/** A plain client on the same Redis, to inspect raw keys and clean up. Caller quits it. */
export function rawClient(): Redis {
  return new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
}

/** Deletes every key under `prefix` (SCAN + UNLINK). */
export async function deletePrefix(client: Redis, prefix: string): Promise<number> {
  const match = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    if (keys.length > 0) deleted += await client.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  return deleted;
}
