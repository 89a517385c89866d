import { MemoryStateStore } from './memory/memory-state-store';
import { RedisStateStore, type RedisTlsOptions } from './redis/redis-state-store';
import type { StateStore } from './state-store';

export interface StateStoreConfig {
  /** Redis when set (non-blank), the in-process memory store otherwise. */
  readonly redisUrl?: string;
  /** Redis key prefix (default `agentmesh:`); the memory store has no shared keyspace to prefix. */
  readonly keyPrefix?: string;
  /** Redis: send the commands of one event-loop turn in one write (default true; see RedisStateStoreOptions). */
  readonly autoPipelining?: boolean;
  /** Redis ACL user and password when the URL holds none (see RedisStateStoreOptions). */
  readonly username?: string;
  readonly password?: string;
  /** Redis TLS (a rediss:// URL): CA and client certificate. */
  readonly tls?: RedisTlsOptions;
}

/** Opens the configured store; for Redis, rejects when it does not answer (see RedisStateStore.connect). */
export async function createStateStore(config: StateStoreConfig): Promise<StateStore> {
  const url = config.redisUrl?.trim();
  if (url)
    return RedisStateStore.connect({
      url,
      keyPrefix: config.keyPrefix,
      autoPipelining: config.autoPipelining,
      username: config.username,
      password: config.password,
      tls: config.tls,
    });
  return new MemoryStateStore();
}
