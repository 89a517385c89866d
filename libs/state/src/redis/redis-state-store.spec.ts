import { createServer, type Socket } from 'node:net';
import { inspect } from 'node:util';
import type { Redis } from 'ioredis';
import { DEFAULT_MARKER_TTL_SECONDS } from '../internal/validation';
import { connectTestStore, deletePrefix, rawClient, REDIS_URL, uniquePrefix } from '../testing/redis-test-env';
import { maskRedisUrl, RedisStateStore } from './redis-state-store';

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('RedisStateStore: connecting', () => {
  it('fails fast with an error naming the URL when nothing listens', async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    const started = Date.now();
    await expect(RedisStateStore.connect({ url })).rejects.toThrow(
      new RegExp(`^Redis at ${url.replace(/[.]/g, '\\.')} did not answer: .*ECONNREFUSED`),
    );
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('masks the password in the error', async () => {
    const port = await closedPort();
    const error = await RedisStateStore.connect({ url: `redis://:s3cret@127.0.0.1:${port}` }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain(`Redis at redis://:***@127.0.0.1:${port} did not answer`);
    expect((error as Error).message).not.toContain('s3cret');
  });

  it('says Redis refused the user and password, and no part of the error holds the password', async () => {
    // a user Redis does not know: AUTH answers WRONGPASS (the shared Redis has only `default`)
    const password = 'Pw-of-nobody-5b2e';
    const { hostname, port } = new URL(REDIS_URL);
    for (const options of [
      { url: `redis://nobody:${password}@${hostname}:${port || 6379}` },
      { url: `redis://${hostname}:${port || 6379}`, username: 'nobody', password },
    ]) {
      const error = await RedisStateStore.connect(options).catch((e: unknown) => e);
      expect((error as Error).message).toMatch(
        /^Redis at redis:\/\/.* refused the user and password: ReplyError: WRONGPASS/,
      );
      // what a logger prints of it, cause and all: ioredis's own error holds AUTH's arguments
      expect(inspect(error, { depth: 10 })).not.toContain(password);
    }
  });

  it('refuses credentials or TLS options that contradict the URL', () => {
    expect(() => new RedisStateStore({ url: 'redis://a:b@h', password: 'c' })).toThrow(
      'RedisStateStore: the url holds a password already; give it once',
    );
    expect(() => new RedisStateStore({ url: 'redis://a:b@h', username: 'c' })).toThrow(/holds a username already/);
    expect(() => new RedisStateStore({ url: 'redis://h', tls: { ca: 'x' } })).toThrow(
      /tls options need a rediss:\/\/ url/,
    );
    expect(() => new RedisStateStore({ url: 'rediss://h', tls: { cert: 'x' } })).toThrow(/needs its key/);
  });

  it('masks the password of a URL that does not parse too', () => {
    expect(maskRedisUrl('redis://u:pw@host:99999')).toBe('redis://***@host:99999');
    expect(maskRedisUrl('rediss://mesh:pw@host:6380/1')).toBe('rediss://mesh:***@host:6380/1');
    expect(maskRedisUrl('redis://host')).toBe('redis://host');
  });

  it('bounds a connect that hangs by connectTimeoutMs', async () => {
    // Accepts TCP but never speaks RESP: the handshake must time out, not hang.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    try {
      const started = Date.now();
      await expect(
        RedisStateStore.connect({ url: `redis://127.0.0.1:${address.port}`, connectTimeoutMs: 300 }),
      ).rejects.toThrow(/did not answer/);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('a lazily built store reports the same error on first use, and ping() is false', async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    const store = new RedisStateStore({ url });
    await expect(store.get('x')).rejects.toThrow(`Redis at ${url} did not answer`);
    await expect(store.ping()).resolves.toBe(false);
    await store.close();
  });

  it('the test harness fails (never skips) when Redis is missing, saying how to start it', async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    await expect(connectTestStore({}, url)).rejects.toThrow(
      new RegExp(`require Redis at ${url.replace(/[.]/g, '\\.')}.*docker run .*redis`),
    );
  });
});

describe('RedisStateStore: against Redis', () => {
  const prefix = uniquePrefix();
  let store: RedisStateStore;
  let raw: Redis;

  beforeAll(async () => {
    store = await connectTestStore({ keyPrefix: prefix });
    raw = rawClient();
    await raw.connect();
  });
  afterAll(async () => {
    if (raw) {
      await deletePrefix(raw, prefix);
      expect(await raw.keys(`${prefix}*`)).toEqual([]);
      await raw.quit();
    }
    await store?.close();
  });

  it('defaults the prefix to agentmesh:', async () => {
    const s = new RedisStateStore({ url: REDIS_URL });
    expect(s.keyPrefix).toBe('agentmesh:');
    await s.close();
  });

  it('prefixes every key and keeps markers under <prefix>applied: with their TTL', async () => {
    await store.applyOnce('evt-1', [{ op: 'set', key: 'layout:s', value: 'v' }]);
    await store.applyOnce('evt-2', [], 60);
    expect(await raw.get(`${prefix}layout:s`)).toBe('v');
    expect(await raw.exists(`${prefix}applied:evt-1`)).toBe(1);
    const ttl = await raw.ttl(`${prefix}applied:evt-1`);
    expect(ttl).toBeGreaterThan(DEFAULT_MARKER_TTL_SECONDS - 10);
    expect(ttl).toBeLessThanOrEqual(DEFAULT_MARKER_TTL_SECONDS);
    expect(await raw.ttl(`${prefix}applied:evt-2`)).toBeGreaterThan(50);
    expect(await raw.exists('layout:s')).toBe(0);
  });

  it('applies once across separate connections racing on one marker', async () => {
    const peers = await Promise.all(Array.from({ length: 5 }, () => connectTestStore({ keyPrefix: prefix })));
    try {
      const calls = peers.flatMap((peer) =>
        Array.from({ length: 10 }, () => peer.applyOnce('race', [{ op: 'hincrby', key: 'race:h', field: 'n', by: 1 }])),
      );
      const outcomes = await Promise.all(calls);
      expect(outcomes.filter((o) => o.applied)).toHaveLength(1);
      expect(await store.hget('race:h', 'n')).toBe('1');
    } finally {
      await Promise.all(peers.map((peer) => peer.close()));
    }
  });

  it('keys() only sees its own prefix, even when the prefix holds glob characters', async () => {
    const globby = `${prefix}[a]*:`;
    const sibling = `${prefix}a:`;
    const a = await connectTestStore({ keyPrefix: globby });
    const b = await connectTestStore({ keyPrefix: sibling });
    try {
      await a.apply([{ op: 'set', key: 'k1', value: '1' }]);
      await b.apply([{ op: 'set', key: 'k2', value: '2' }]);
      expect(await a.keys('*')).toEqual(['k1']);
      expect(await b.keys('*')).toEqual(['k2']);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('auto-pipelines by default, and can be turned off', async () => {
    expect(store.autoPipelining).toBe(true);
    const plain = new RedisStateStore({ url: REDIS_URL, autoPipelining: false });
    expect(plain.autoPipelining).toBe(false);
    await plain.close();
    expect(() => new RedisStateStore({ url: REDIS_URL, autoPipelining: 'yes' as unknown as boolean })).toThrow(
      'autoPipelining must be a boolean',
    );
  });

  it('keeps the order of commands issued in one turn (writes seen by the reads after them)', async () => {
    const calls: Promise<unknown>[] = [];
    for (let i = 1; i <= 50; i++) {
      calls.push(store.applyOnce(`order-${i}`, [{ op: 'hincrby', key: 'order:h', field: 'n', by: 1 }]));
      calls.push(store.hget('order:h', 'n'));
    }
    const replies = await Promise.all(calls);
    expect(replies.filter((_, i) => i % 2 === 1)).toEqual(Array.from({ length: 50 }, (_, i) => String(i + 1)));
  });

  it('close() lets commands still waiting for their pipeline finish before it QUITs', async () => {
    const closing = await connectTestStore({ keyPrefix: prefix });
    await closing.get('warm'); // connected: what follows waits only for the auto-pipeline
    const pending = Promise.all([
      closing.apply([{ op: 'set', key: 'close:s', value: 'v' }]),
      closing.hget('close:none', 'f'),
    ]);
    await closing.close();
    await expect(pending).resolves.toEqual([['OK'], null]);
    expect(await store.get('close:s')).toBe('v');
  });

  it('falls back to EVAL for every pipelined call after Redis lost its scripts (SCRIPT FLUSH)', async () => {
    await raw.script('FLUSH');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.applyOnce(`flushed-${i}`, [{ op: 'rpush', key: 'flushed:l', value: String(i) }]),
      ),
    );
    expect(results.every((r) => r.applied)).toBe(true);
    expect(await store.lrange('flushed:l', 0, -1)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
  });

  it('reloads the script when Redis does not have it (NOSCRIPT → EVAL)', async () => {
    // A fresh connection has not run EVALSHA yet; the store must not depend on SCRIPT LOAD state.
    const fresh = await connectTestStore({ keyPrefix: prefix });
    try {
      await expect(fresh.apply([{ op: 'rpush', key: 'script:l', value: 'x' }])).resolves.toEqual([1]);
    } finally {
      await fresh.close();
    }
  });
});
