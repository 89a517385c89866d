import { Redis, type RedisOptions } from 'ioredis';
import { describeError } from '@agent-mesh/contracts';
import type {
  ApplyOnceResult,
  ChainResult,
  OnceStep,
  ReserveResult,
  SlotWrite,
  SlotWriteResult,
  StateOp,
  StateOpResult,
  StateStore,
  WindowClaim,
} from '../state-store';
import { escapeGlob } from '../internal/glob';
import {
  DEFAULT_MARKER_TTL_SECONDS,
  MARKER_NAMESPACE,
  assertInteger,
  assertKey,
  assertMarker,
  assertTtl,
  validateChain,
  validateClaims,
  validateOps,
  validatePage,
  validateSlotWrite,
} from '../internal/validation';
import type { LuaScript } from './lua-loader';
import { APPLY_SCRIPT, CHAIN_SCRIPT, RESERVE_SCRIPT, SLOT_SCRIPT, scriptError } from './scripts';

export interface RedisStateStoreOptions {
  /** e.g. `redis://127.0.0.1:6379`, `rediss://user:pass@host:6380/2`. */
  readonly url: string;
  /** Prepended to every key, markers included (`<prefix>applied:<marker>`). Default `agentmesh:`. */
  readonly keyPrefix?: string;
  /** Bound on connecting (TCP + handshake) and on `ping()`. Default 3000 ms. */
  readonly connectTimeoutMs?: number;
  /**
   * After a connection that was up drops, reconnect at most this many times (backoff 100 ms
   * doubling to 2 s) before giving up; the next call then connects afresh. Default 10.
   * There are no retries at start-up: a first connect that fails, fails.
   */
  readonly maxReconnectAttempts?: number;
  /**
   * ioredis auto-pipelining: commands issued in the same event-loop turn leave in one write
   * (one syscall instead of one per command; Redis answers them in order). Default true. Turn it
   * off to trade that for one event-loop turn less latency per lone command (each command waits
   * for `setImmediate` before it is written).
   */
  readonly autoPipelining?: boolean;
  /**
   * The ACL user to authenticate as (Redis 6+), when the URL names none. Give a user and a
   * password here or in the URL (`redis://user:pass@host`), not both.
   */
  readonly username?: string;
  /** The password, when the URL holds none. Never part of a message: the URL shown masks it. */
  readonly password?: string;
  /** TLS settings for a `rediss://` URL (and only for one). */
  readonly tls?: RedisTlsOptions;
}

/** PEM texts for TLS: the CA that signed Redis's certificate, and the client's own for mutual TLS. */
export interface RedisTlsOptions {
  /** CA certificate(s) to trust instead of Node's bundled ones. */
  readonly ca?: string;
  /** Client certificate, for a Redis that requires one (`tls-auth-clients yes`); needs `key`. */
  readonly cert?: string;
  /** The client certificate's private key (unencrypted PEM). */
  readonly key?: string;
}

export const DEFAULT_KEY_PREFIX = 'agentmesh:';
const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
const DEFAULT_MAX_RECONNECT_ATTEMPTS = 10;
const SCAN_COUNT = 1000;

type ScriptArg = string;

/**
 * StateStore over Redis (ioredis). `apply`/`applyOnce` are one Lua script (EVALSHA, EVAL on
 * NOSCRIPT), so each batch is atomic and a marker is recorded together with its writes.
 *
 * Use `RedisStateStore.connect(options)` to fail at start-up when Redis is not there; a store
 * built with `new` connects on first use. Commands issued while a live connection is being
 * re-established are queued for at most a few reconnect attempts (maxRetriesPerRequest), then fail.
 */
export class RedisStateStore implements StateStore {
  readonly driver = 'redis';
  readonly keyPrefix: string;
  /** The URL with any password masked, for messages and logs. */
  readonly displayUrl: string;
  /** Whether commands of one event-loop turn are sent in one write (see RedisStateStoreOptions). */
  readonly autoPipelining: boolean;

  private readonly redis: Redis;
  private readonly connectTimeoutMs: number;
  private readonly markerPrefix: string;
  private connecting: Promise<void> | null = null;
  private everReady = false;
  private closed = false;
  private lastError: unknown = undefined;

  constructor(options: RedisStateStoreOptions) {
    if (typeof options.url !== 'string' || options.url.trim() === '') {
      throw new TypeError('RedisStateStore: url must be a non-empty string, e.g. redis://127.0.0.1:6379');
    }
    const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    if (typeof keyPrefix !== 'string') throw new TypeError('RedisStateStore: keyPrefix must be a string');
    const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    assertInteger(connectTimeoutMs, 'connectTimeoutMs');
    const maxReconnectAttempts = options.maxReconnectAttempts ?? DEFAULT_MAX_RECONNECT_ATTEMPTS;
    assertInteger(maxReconnectAttempts, 'maxReconnectAttempts');

    this.keyPrefix = keyPrefix;
    this.markerPrefix = `${keyPrefix}${MARKER_NAMESPACE}`;
    this.displayUrl = maskRedisUrl(options.url);
    this.connectTimeoutMs = Math.max(connectTimeoutMs, 1);
    this.autoPipelining = options.autoPipelining ?? true;
    if (typeof this.autoPipelining !== 'boolean')
      throw new TypeError('RedisStateStore: autoPipelining must be a boolean');
    this.redis = new Redis(options.url, {
      ...credentials(options),
      lazyConnect: true,
      // CLIENT SETINFO (Redis 7.2+) names the library in CLIENT LIST; the mesh's ACL user is
      // granted no CLIENT subcommand (deploy/redis/mesh-acl.rules), and each refusal would land in ACL LOG.
      disableClientInfo: true,
      // Safe with everything the store sends: EVALSHA/EVAL (NOSCRIPT comes back per command),
      // no MULTI, no blocking commands, no ioredis keyPrefix (keys are prefixed here). QUIT is
      // not pipelined by ioredis: close() first lets queued commands leave (flushAutoPipeline).
      enableAutoPipelining: this.autoPipelining,
      connectTimeout: this.connectTimeoutMs,
      // Only reached while a connection that was up is being re-established (see client()):
      // queue briefly rather than fail every in-flight handler on a blip.
      enableOfflineQueue: true,
      maxRetriesPerRequest: 2,
      retryStrategy: (attempt: number): number | null =>
        this.everReady && !this.closed && attempt <= maxReconnectAttempts
          ? Math.min(100 * 2 ** (attempt - 1), 2000)
          : null,
    });
    this.redis.on('error', (error: unknown) => {
      hideCredentials(error);
      // A refused AUTH explains what follows it (SELECT's NOAUTH, the closed connection): keep it.
      if (!isWrongCredentials(this.lastError)) this.lastError = error;
    });
  }

  /** Connects and checks that Redis answers; rejects with `Redis at <url> did not answer: ...`. */
  static async connect(options: RedisStateStoreOptions): Promise<RedisStateStore> {
    const store = new RedisStateStore(options);
    try {
      await store.client();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  async applyOnce(
    marker: string,
    ops: readonly StateOp[],
    markerTtlSeconds: number = DEFAULT_MARKER_TTL_SECONDS,
  ): Promise<ApplyOnceResult> {
    assertMarker(marker);
    assertTtl(markerTtlSeconds);
    validateOps(ops);
    const reply = await this.runScript('once', `${this.markerPrefix}${marker}`, String(markerTtlSeconds), ops);
    return reply.applied ? reply : { applied: false, results: [] };
  }

  async applyOnceChain(
    steps: readonly OnceStep[],
    markerTtlSeconds: number = DEFAULT_MARKER_TTL_SECONDS,
  ): Promise<ChainResult> {
    validateChain(steps);
    assertTtl(markerTtlSeconds);
    if (steps.length === 0) return { applied: 0, results: [] };
    const keys = steps.map((step) => `${this.markerPrefix}${step.marker}`);
    const args: ScriptArg[] = [
      String(steps.length),
      String(markerTtlSeconds),
      ...steps.map((step) => String(step.ops.length)),
    ];
    for (const step of steps) {
      for (const op of step.ops) {
        keys.push(this.k(op.key));
        args.push(...encodeOp(op));
      }
    }
    return parseChainReply(await this.evalScript(CHAIN_SCRIPT, keys, args), steps);
  }

  async recordSlot(write: SlotWrite): Promise<SlotWriteResult> {
    validateSlotWrite(write);
    const ops = write.ops ?? [];
    const reads = write.reads ?? [];
    const keys = [`${this.markerPrefix}${write.marker}`, this.k(write.slotsKey), this.k(write.countsKey)];
    const args: ScriptArg[] = [
      String(write.markerTtlSeconds ?? DEFAULT_MARKER_TTL_SECONDS),
      write.slot,
      String(write.version),
      write.state,
      write.requires?.field ?? '',
      write.requires ? '1' : '0',
      String(reads.length),
    ];
    if (write.requires) keys.push(this.k(write.requires.key));
    for (const read of reads) {
      keys.push(this.k(read.key));
      args.push(read.field);
    }
    for (const op of ops) {
      keys.push(this.k(op.key));
      args.push(...encodeOp(op));
    }
    return parseSlotReply(await this.evalScript(SLOT_SCRIPT, keys, args), reads.length, ops.length);
  }

  async apply(ops: readonly StateOp[]): Promise<readonly StateOpResult[]> {
    validateOps(ops);
    if (ops.length === 0) return [];
    return (await this.runScript('apply', null, '', ops)).results;
  }

  async reserve(claims: readonly WindowClaim[]): Promise<ReserveResult> {
    validateClaims(claims);
    const keys = claims.map((claim) => this.k(claim.key));
    const args = claims.flatMap((claim) => [claim.member, String(claim.limit), String(claim.windowMs)]);
    const reply = await this.evalScript(RESERVE_SCRIPT, keys, args);
    if (!Array.isArray(reply) || reply.length !== 3 || !reply.every((n) => typeof n === 'number'))
      throw new Error(`StateStore: unexpected reply from the reserve script: ${JSON.stringify(reply)}`);
    const [granted, at, retryAfterMs] = reply as [number, number, number];
    return { granted: granted === 1, at, retryAfterMs };
  }

  async get(key: string): Promise<string | null> {
    assertKey(key);
    return (await this.client()).get(this.k(key));
  }

  async hget(key: string, field: string): Promise<string | null> {
    assertKey(key);
    return (await this.client()).hget(this.k(key), field);
  }

  async hmget(key: string, fields: readonly string[]): Promise<(string | null)[]> {
    assertKey(key);
    if (!Array.isArray(fields) || !fields.every((f) => typeof f === 'string'))
      throw new TypeError('StateStore: hmget fields must be an array of strings');
    if (fields.length === 0) return [];
    return (await this.client()).hmget(this.k(key), ...fields);
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    assertKey(key);
    return { ...(await (await this.client()).hgetall(this.k(key))) };
  }

  async lrange(key: string, start: number, stop: number): Promise<string[]> {
    assertKey(key);
    assertInteger(start, 'start');
    assertInteger(stop, 'stop');
    return (await this.client()).lrange(this.k(key), start, stop);
  }

  async smembers(key: string): Promise<string[]> {
    assertKey(key);
    return (await this.client()).smembers(this.k(key));
  }

  async zpage(
    key: string,
    page: { readonly after?: string; readonly limit: number; readonly order: 'asc' | 'desc' },
  ): Promise<string[]> {
    assertKey(key);
    validatePage(page);
    const client = await this.client();
    const k = this.k(key);
    if (page.order === 'asc')
      return client.zrangebylex(k, page.after === undefined ? '-' : `(${page.after}`, '+', 'LIMIT', 0, page.limit);
    return client.zrevrangebylex(k, page.after === undefined ? '+' : `(${page.after}`, '-', 'LIMIT', 0, page.limit);
  }

  async zcard(key: string): Promise<number> {
    assertKey(key);
    const client = await this.client();
    return client.zcard(this.k(key));
  }

  /** SCAN (never KEYS) under the prefix; markers are not listed. Sorted, without duplicates. */
  async keys(pattern: string): Promise<string[]> {
    if (typeof pattern !== 'string') throw new TypeError('StateStore: keys pattern must be a string');
    const client = await this.client();
    const match = `${escapeGlob(this.keyPrefix)}${pattern}`;
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
      for (const key of batch) {
        if (key.startsWith(this.keyPrefix) && !key.startsWith(this.markerPrefix)) {
          found.add(key.slice(this.keyPrefix.length));
        }
      }
      cursor = next;
    } while (cursor !== '0');
    return [...found].sort();
  }

  /** PING within connectTimeoutMs; false (never a rejection) when Redis does not answer. */
  async ping(): Promise<boolean> {
    if (this.closed) return false;
    try {
      const client = await this.client();
      return (await withTimeout(client.ping(), this.connectTimeoutMs, 'PING')) === 'PONG';
    } catch {
      return false;
    }
  }

  /** QUITs after pending replies arrive (or drops a connection that is not up). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connecting?.catch(() => undefined);
    if (this.redis.status === 'ready') {
      try {
        await this.flushAutoPipeline();
        await this.redis.quit();
        return;
      } catch {
        // fall through: drop the socket
      }
    }
    this.redis.disconnect();
  }

  /**
   * Waits until no command sits in an auto-pipeline that has not been written yet, so a QUIT
   * sent next (ioredis never pipelines it) goes after them and their replies still arrive.
   * Bounded by connectTimeoutMs.
   */
  private async flushAutoPipeline(): Promise<void> {
    const deadline = Date.now() + this.connectTimeoutMs;
    while (this.redis.autoPipelineQueueSize > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private k(key: string): string {
    return `${this.keyPrefix}${key}`;
  }

  /** The connected client: connects on first use, and again after the reconnect budget ran out. */
  private async client(): Promise<Redis> {
    if (this.closed) throw new Error(`RedisStateStore (${this.displayUrl}) is closed`);
    if (this.connecting === null && (this.redis.status === 'wait' || this.redis.status === 'end')) {
      this.connecting = this.open().finally(() => {
        this.connecting = null;
      });
    }
    if (this.connecting !== null) await this.connecting;
    return this.redis;
  }

  private async open(): Promise<void> {
    this.lastError = undefined;
    try {
      // ioredis bounds the TCP connect; this also bounds the handshake (AUTH, SELECT, ready check).
      // The PING is answered only once AUTH was: ioredis may report ready before a refused AUTH
      // (where the default user needs no password, its ready check passes as that user) and then
      // drop the connection, so ready alone does not mean in.
      await withTimeout(
        this.redis.connect().then(() => this.redis.ping()),
        this.connectTimeoutMs + 250,
        'connecting',
      );
      this.everReady = true;
    } catch (error) {
      this.redis.disconnect();
      // connect() itself rejects with a generic "Connection is closed."; the error event has the cause.
      throw connectError(this.displayUrl, this.lastError ?? error);
    }
  }

  private async runScript(
    mode: 'once' | 'apply',
    markerKey: string | null,
    ttl: string,
    ops: readonly StateOp[],
  ): Promise<ApplyOnceResult> {
    const keys: string[] = markerKey === null ? [] : [markerKey];
    const args: ScriptArg[] = [mode, ttl];
    for (const op of ops) {
      keys.push(this.k(op.key));
      args.push(...encodeOp(op));
    }
    return parseReply(await this.evalScript(APPLY_SCRIPT, keys, args), ops.length);
  }

  /**
   * EVALSHA, and EVAL (which also caches the script) when Redis does not have it; a script's
   * coded error becomes its message here (scriptError).
   */
  private async evalScript(script: LuaScript, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
    const client = await this.client();
    try {
      return await client.evalsha(script.sha1, keys.length, ...keys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw scriptError(error);
    }
    try {
      return await client.eval(script.source, keys.length, ...keys, ...args);
    } catch (error) {
      throw scriptError(error);
    }
  }
}

function encodeOp(op: StateOp): [string, string, string] {
  switch (op.op) {
    case 'set':
    case 'rpush':
      return [op.op, op.value, ''];
    case 'hset':
    case 'hsetnx':
      return [op.op, op.field, op.value];
    case 'hincrby':
      return [op.op, op.field, String(op.by)];
    case 'sadd':
      return [op.op, op.member, ''];
    case 'del':
      return [op.op, '', ''];
    case 'pexpire':
      return [op.op, String(op.ms), ''];
    case 'zadd':
      return [op.op, String(op.score), op.member];
    case 'zrem':
      return [op.op, op.member, ''];
  }
}

function parseReply(reply: unknown, opCount: number): ApplyOnceResult {
  if (!Array.isArray(reply) || (reply[0] !== 0 && reply[0] !== 1)) {
    throw new Error(`RedisStateStore: unexpected script reply ${JSON.stringify(reply)}`);
  }
  if (reply[0] === 0) return { applied: false, results: [] };
  const results = reply.slice(1);
  if (results.length !== opCount || !results.every(isOpResult)) {
    throw new Error(`RedisStateStore: unexpected script reply ${JSON.stringify(reply)}`);
  }
  return { applied: true, results };
}

function parseChainReply(reply: unknown, steps: readonly OnceStep[]): ChainResult {
  const unexpected = () => new Error(`RedisStateStore: unexpected applyOnceChain reply ${JSON.stringify(reply)}`);
  if (!Array.isArray(reply)) throw unexpected();
  const [applied, ...flat] = reply as unknown[];
  if (
    typeof applied !== 'number' ||
    !Number.isSafeInteger(applied) ||
    applied < 0 ||
    applied > steps.length ||
    !flat.every(isOpResult)
  )
    throw unexpected();
  const results: StateOpResult[][] = [];
  let at = 0;
  for (const step of steps.slice(0, applied)) {
    results.push(flat.slice(at, at + step.ops.length));
    at += step.ops.length;
  }
  if (at !== flat.length) throw unexpected();
  return { applied, results };
}

const SLOT_OUTCOMES: ReadonlySet<string> = new Set<SlotWriteResult['outcome']>([
  'recorded',
  'duplicate',
  'stale',
  'missing',
]);

function parseSlotReply(reply: unknown, readCount: number, opCount: number): SlotWriteResult {
  const unexpected = () => new Error(`RedisStateStore: unexpected recordSlot reply ${JSON.stringify(reply)}`);
  if (!Array.isArray(reply) || reply.length !== 4) throw unexpected();
  const [outcome, flatCounts, values, results] = reply as unknown[];
  if (
    typeof outcome !== 'string' ||
    !SLOT_OUTCOMES.has(outcome) ||
    !Array.isArray(flatCounts) ||
    !Array.isArray(values) ||
    !Array.isArray(results)
  ) {
    throw unexpected();
  }
  const counts: Record<string, number> = {};
  for (let i = 0; i < flatCounts.length; i += 2) {
    const state: unknown = flatCounts[i];
    const count = Number(flatCounts[i + 1]);
    if (typeof state !== 'string' || !Number.isSafeInteger(count)) throw unexpected();
    counts[state] = count;
  }
  const recorded = outcome === 'recorded';
  if (values.length !== readCount || !values.every((v): v is string | null => v === null || typeof v === 'string'))
    throw unexpected();
  if (results.length !== (recorded ? opCount : 0) || !results.every(isOpResult)) throw unexpected();
  return { outcome: outcome as SlotWriteResult['outcome'], counts, values, results };
}

function isOpResult(value: unknown): value is StateOpResult {
  return value === null || typeof value === 'string' || typeof value === 'number';
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The URL with its password (if any) as `***`, for messages and logs. A URL that does not parse
 * still loses whatever stands between `//` and `@`.
 */
export function maskRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^/]*@/, '//***@');
  }
}

/** ioredis's username, password and tls options, checked against what the URL holds already. */
function credentials(options: RedisStateStoreOptions): Pick<RedisOptions, 'username' | 'password' | 'tls'> {
  const { username, password, tls } = options;
  if (username === undefined && password === undefined && tls === undefined) return {};
  let inUrl: { readonly username: string; readonly password: string; readonly tls: boolean };
  try {
    const parsed = new URL(options.url);
    inUrl = { username: parsed.username, password: parsed.password, tls: parsed.protocol === 'rediss:' };
  } catch {
    throw new TypeError(`RedisStateStore: url is not a URL: ${maskRedisUrl(options.url)}`);
  }
  for (const [name, value] of [
    ['username', username],
    ['password', password],
  ] as const) {
    if (value === undefined) continue;
    if (typeof value !== 'string' || value === '')
      throw new TypeError(`RedisStateStore: ${name} must be a non-empty string`);
    if (inUrl[name] !== '') throw new TypeError(`RedisStateStore: the url holds a ${name} already; give it once`);
  }
  if (tls !== undefined && !inUrl.tls)
    throw new TypeError('RedisStateStore: tls options need a rediss:// url (the url says redis://, no TLS)');
  if (tls !== undefined && (tls.cert === undefined) !== (tls.key === undefined))
    throw new TypeError('RedisStateStore: a tls client certificate needs its key, and a key its certificate');
  return {
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    ...(tls === undefined ? {} : { tls: { ...tls } }),
  };
}

/** What Redis answers when the user or password is wrong (AUTH), or when none was given (any command). */
const WRONG_CREDENTIALS = /\bWRONGPASS\b/;
const NO_CREDENTIALS = /\bNOAUTH\b/;
/** Node's and OpenSSL's codes of a TLS handshake that failed (an untrusted certificate, a certificate Redis required). */
const TLS_FAILURE = /^(ERR_SSL_|ERR_TLS_|ERR_OSSL_|SELF_SIGNED_|DEPTH_ZERO_|UNABLE_TO_|CERT_|HOSTNAME_)/;

function isWrongCredentials(error: unknown): boolean {
  const message = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
  return typeof message === 'string' && WRONG_CREDENTIALS.test(message);
}

/**
 * ioredis rejects the commands waiting on a connection whose AUTH failed with AUTH's own error,
 * whose `command.args` hold the user and password; it emits that error (handled above) before
 * any rejection is seen, so masking them here keeps them out of whatever logs a failed command.
 */
function hideCredentials(error: unknown): void {
  if (typeof error !== 'object' || error === null) return;
  const command = (error as { command?: { name?: unknown; args?: unknown } }).command;
  if (typeof command !== 'object' || command === null) return;
  const name = typeof command.name === 'string' ? command.name.toLowerCase() : '';
  if ((name === 'auth' || name === 'hello') && Array.isArray(command.args))
    command.args = command.args.map(() => '***');
}

/**
 * The error a failed connect rejects with. Its cause is a copy that keeps only the name, message
 * and code: ioredis's own error of a refused AUTH carries the command's arguments (the password)
 * in `command.args`, which a logger printing the cause would show.
 */
function connectError(displayUrl: string, error: unknown): Error {
  const described = describeError(error);
  const message = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
  const text = typeof message === 'string' ? message : '';
  const cause = new Error(typeof message === 'string' ? message : described);
  if (error instanceof Error) cause.name = error.name;
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (typeof code === 'string') Object.assign(cause, { code });
  const what = WRONG_CREDENTIALS.test(text)
    ? 'refused the user and password'
    : NO_CREDENTIALS.test(text)
      ? 'requires a password, and none was given'
      : typeof code === 'string' && TLS_FAILURE.test(code)
        ? 'failed the TLS handshake'
        : 'did not answer';
  return new Error(`Redis at ${displayUrl} ${what}: ${described}${typeof code === 'string' ? ` (${code})` : ''}`, {
    cause,
  });
}

function isNoScript(error: unknown): boolean {
  const message = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
  return typeof message === 'string' && message.startsWith('NOSCRIPT');
}
