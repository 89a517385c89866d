import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { IsIn, IsInt, IsIP, IsOptional, IsString, IsUrl, Matches, Max, Min, validateSync } from 'class-validator';
import { flattenValidationErrors, MAX_DEADLINE_MS, redactCredentials, type TopicNaming } from '@agent-mesh/contracts';
import { parseLlmPrices, parseMcpServers, type LlmPriceTable, type McpServerTable } from '@agent-mesh/skills';
import { LOG_LEVELS, type LogLevel } from '@agent-mesh/telemetry';
import { readRedisSecurity, type RedisSecurity } from './redis-settings';

/** How long a workflow whose spec declares no deadline may run: one hour. */
export const DEFAULT_WORKFLOW_DEADLINE_MS = 3_600_000;

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/;

/** The environment every agent process reads (DESIGN.md, "Configuration"). */
export class MeshEnvironment {
  @IsOptional()
  @IsIn(['memory', 'pulsar'], { message: 'MESH_TRANSPORT must be "memory" or "pulsar"' })
  MESH_TRANSPORT?: string;

  @IsOptional()
  @IsUrl(
    { protocols: ['pulsar', 'pulsar+ssl'], require_tld: false, require_protocol: true },
    {
      message: 'PULSAR_SERVICE_URL must be a pulsar:// or pulsar+ssl:// URL',
    },
  )
  PULSAR_SERVICE_URL?: string;

  @IsOptional()
  @IsUrl(
    { protocols: ['http', 'https'], require_tld: false, require_protocol: true },
    {
      message: 'PULSAR_WEB_URL must be an http:// or https:// URL',
    },
  )
  PULSAR_WEB_URL?: string;

  @IsOptional()
  @IsString()
  PULSAR_TOKEN?: string;

  @IsOptional()
  @IsString()
  PULSAR_TOKEN_FILE?: string;

  @IsOptional()
  @IsString()
  PULSAR_TLS_CA_FILE?: string;

  @IsOptional()
  @Matches(NAME, { message: 'PULSAR_TENANT must be letters, digits, _ or -' })
  PULSAR_TENANT?: string;

  @IsOptional()
  @Matches(NAME, { message: 'PULSAR_NAMESPACE must be letters, digits, _ or -' })
  PULSAR_NAMESPACE?: string;

  // A producer unused this long is closed; the next publish to its topic opens a new one (docs/bus-drivers.md).
  @IsOptional()
  @IsInt({ message: 'PULSAR_PRODUCER_IDLE_MS must be an integer' })
  @Min(0, { message: 'PULSAR_PRODUCER_IDLE_MS must be 0 (never close idle producers) or more' })
  PULSAR_PRODUCER_IDLE_MS?: number;

  @IsOptional()
  @Matches(NAME, { message: 'MESH_REGION must be letters, digits, _ or - (e.g. us-east)' })
  MESH_REGION?: string;

  @IsOptional()
  @Matches(NAME, { message: 'MESH_INSTANCE_ID must be letters, digits, _ or -' })
  MESH_INSTANCE_ID?: string;

  // Checked with the other Redis settings (redis-settings.ts), which shows it with its password masked.
  @IsOptional()
  @IsString()
  REDIS_URL?: string;

  // Redis credentials and TLS (redis-settings.ts reads and checks them together).
  @IsOptional()
  @IsString()
  REDIS_USERNAME?: string;

  @IsOptional()
  @IsString()
  REDIS_PASSWORD?: string;

  @IsOptional()
  @IsString()
  REDIS_PASSWORD_FILE?: string;

  @IsOptional()
  @IsString()
  REDIS_TLS_CA_FILE?: string;

  @IsOptional()
  @IsString()
  REDIS_TLS_CERT_FILE?: string;

  @IsOptional()
  @IsString()
  REDIS_TLS_KEY_FILE?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9:_-]{1,64}$/, { message: 'REDIS_KEY_PREFIX must be 1-64 letters, digits, :, _ or -' })
  REDIS_KEY_PREFIX?: string;

  @IsOptional()
  @IsInt({ message: 'PORT must be an integer' })
  @Min(0, { message: 'PORT must be between 0 and 65535' })
  @Max(65535, { message: 'PORT must be between 0 and 65535' })
  PORT?: number;

  @IsOptional()
  @Matches(/^[a-z][a-z0-9-]*(,[a-z][a-z0-9-]*)*$/, {
    message: 'WORKER_SKILLS must be a comma-separated list of skill names',
  })
  WORKER_SKILLS?: string;

  @IsOptional()
  @Matches(/^[a-z][a-z0-9-]*(,[a-z][a-z0-9-]*)*$/, {
    message: 'MESH_BOARDS must be a comma-separated list of board names',
  })
  MESH_BOARDS?: string;

  @IsOptional()
  @Matches(/^[1-9][0-9]*(b|kb|mb)$/, { message: 'MESH_BODY_LIMIT must be a size such as 512kb or 5mb' })
  MESH_BODY_LIMIT?: string;

  @IsOptional()
  @IsString()
  MESH_API_KEYS?: string;

  @IsOptional()
  @IsIP(undefined, { message: 'MESH_BIND must be an IP address such as 127.0.0.1 or 0.0.0.0' })
  MESH_BIND?: string;

  // HTTP rate limits and JWT (docs/security.md)
  @IsOptional()
  @IsInt({ message: 'MESH_RATE_LIMIT must be an integer (requests per window per client; 0 turns limits off)' })
  @Min(0, { message: 'MESH_RATE_LIMIT must be 0 (off) or more' })
  MESH_RATE_LIMIT?: number;

  @IsOptional()
  @IsInt({ message: 'MESH_RATE_LIMIT_WINDOW_MS must be an integer' })
  @Min(1, { message: 'MESH_RATE_LIMIT_WINDOW_MS must be positive' })
  MESH_RATE_LIMIT_WINDOW_MS?: number;

  @IsOptional()
  @IsString()
  MESH_JWT_ISSUER?: string;

  @IsOptional()
  @IsUrl(
    { protocols: ['http', 'https'], require_tld: false, require_protocol: true },
    { message: "MESH_JWT_JWKS_URL must be an http(s) URL (the issuer's JSON Web Key Set)" },
  )
  MESH_JWT_JWKS_URL?: string;

  @IsOptional()
  @IsString()
  MESH_JWT_AUDIENCE?: string;

  @IsOptional()
  @IsString()
  MESH_CONSOLE_DIR?: string;

  @IsOptional()
  @IsInt({ message: 'DRAIN_TIMEOUT_MS must be an integer' })
  @Min(0, { message: 'DRAIN_TIMEOUT_MS must be 0 or more' })
  DRAIN_TIMEOUT_MS?: number;

  @IsOptional()
  @IsInt({ message: 'TASK_TIMEOUT_MS must be an integer' })
  @Min(1, { message: 'TASK_TIMEOUT_MS must be positive' })
  TASK_TIMEOUT_MS?: number;

  @IsOptional()
  @IsInt({ message: 'WORKFLOW_RETENTION_MS must be an integer' })
  @Min(1, { message: 'WORKFLOW_RETENTION_MS must be positive' })
  WORKFLOW_RETENTION_MS?: number;

  @IsOptional()
  @IsInt({ message: 'WORKFLOW_DEADLINE_MS must be an integer' })
  @Min(1, { message: 'WORKFLOW_DEADLINE_MS must be positive' })
  @Max(MAX_DEADLINE_MS, { message: `WORKFLOW_DEADLINE_MS must be at most ${MAX_DEADLINE_MS} (7 days)` })
  WORKFLOW_DEADLINE_MS?: number;

  @IsOptional()
  @IsUrl(
    { protocols: ['http', 'https'], require_tld: false, require_protocol: true },
    { message: 'LLM_BASE_URL must be an http(s) URL' },
  )
  LLM_BASE_URL?: string;

  @IsOptional()
  @IsString()
  LLM_MODEL?: string;

  @IsOptional()
  @IsString()
  LLM_API_KEY?: string;

  // The LLM skill's prices and MCP servers (docs/ai.md); parsed and checked in validateMeshEnvironment.
  @IsOptional()
  @IsString()
  LLM_PRICES?: string;

  @IsOptional()
  @IsString()
  LLM_MCP_SERVERS?: string;

  // The LLM limits every worker shares through Redis (libs/llm-gateway); unset: no limit.
  @IsOptional()
  @IsInt({ message: 'LLM_MAX_RPM must be a positive integer (requests per minute)' })
  @Min(1, { message: 'LLM_MAX_RPM must be a positive integer (requests per minute)' })
  LLM_MAX_RPM?: number;

  @IsOptional()
  @IsInt({ message: 'LLM_MAX_TPM must be a positive integer (tokens per minute)' })
  @Min(1, { message: 'LLM_MAX_TPM must be a positive integer (tokens per minute)' })
  LLM_MAX_TPM?: number;

  @IsOptional()
  @IsInt({ message: 'LLM_MAX_CONCURRENCY must be a positive integer (calls in flight)' })
  @Min(1, { message: 'LLM_MAX_CONCURRENCY must be a positive integer (calls in flight)' })
  LLM_MAX_CONCURRENCY?: number;

  @IsOptional()
  @IsInt({ message: 'LLM_JOURNAL_TTL_S must be a positive integer (seconds)' })
  @Min(1, { message: 'LLM_JOURNAL_TTL_S must be a positive integer (seconds)' })
  LLM_JOURNAL_TTL_S?: number;

  @IsOptional()
  @IsUrl(
    { protocols: ['http', 'https'], require_tld: false, require_protocol: true },
    {
      message: 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL',
    },
  )
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;

  // Observability (docs/operations.md): heartbeats on mesh.agents, broker stats on mesh.stats.
  @IsOptional()
  @IsInt({ message: 'MESH_HEARTBEAT_MS must be an integer' })
  @Min(0, { message: 'MESH_HEARTBEAT_MS must be 0 (no heartbeats) or more' })
  MESH_HEARTBEAT_MS?: number;

  @IsOptional()
  @IsInt({ message: 'MESH_STATS_MS must be an integer' })
  @Min(0, { message: 'MESH_STATS_MS must be 0 (no broker stats) or more' })
  MESH_STATS_MS?: number;
  // Geo-replication (docs/geo.md): the other regions' Pulsar admin URLs, comma-separated.
  @IsOptional()
  @IsString()
  MESH_GEO_PEER_WEB_URLS?: string;
  // Automatic fail-over after this long with no heartbeat of a peer region (0 or unset: off).
  @IsOptional()
  @IsInt({ message: 'MESH_GEO_AUTO_FAILOVER_MS must be an integer' })
  @Min(0, { message: 'MESH_GEO_AUTO_FAILOVER_MS must be 0 (no automatic fail-over) or more' })
  MESH_GEO_AUTO_FAILOVER_MS?: number;
  // Logs and traces (docs/operations.md)
  @IsOptional()
  @IsIn(LOG_LEVELS, { message: `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, { message: 'OTEL_SERVICE_NAME must be letters, digits, ., _ or -' })
  OTEL_SERVICE_NAME?: string;
}

export type MeshTransportKind = 'memory' | 'pulsar';

/** Validated, typed configuration of one agent process. */
export interface MeshConfig {
  readonly transport: MeshTransportKind;
  readonly pulsarServiceUrl?: string;
  readonly pulsarWebUrl?: string;
  /** The broker token (PULSAR_TOKEN, or read from PULSAR_TOKEN_FILE); never logged. */
  readonly pulsarToken?: string;
  /** PEM file of the CA that signed the broker's certificate (PULSAR_TLS_CA_FILE), for https://, wss:// and pulsar+ssl://. */
  readonly pulsarTlsCaFile?: string;
  /** PULSAR_PRODUCER_IDLE_MS: close a producer unused this long (0: never); unset, the bus's default (60 s). */
  readonly pulsarProducerIdleMs?: number;
  readonly naming: TopicNaming;
  readonly region: string;
  readonly instanceId: string;
  readonly redisUrl?: string;
  /** Prefix of every Redis key; default `agentmesh:`. */
  readonly redisKeyPrefix?: string;
  /** Redis user, password and TLS from REDIS_USERNAME, REDIS_PASSWORD(_FILE), REDIS_TLS_*_FILE. */
  readonly redisSecurity: RedisSecurity;
  readonly port: number;
  /** Skills this process's worker serves; undefined = every registered skill. */
  readonly workerSkills?: readonly string[];
  readonly taskTimeoutMs: number;
  /** How long an ended workflow's state is kept (every role's keys of it expire then). */
  readonly workflowRetentionMs: number;
  /** The deadline of a workflow whose spec declares none (`WORKFLOW_DEADLINE_MS`, default one hour). */
  readonly workflowDeadlineMs: number;
  /** Keys the HTTP API accepts as `Authorization: Bearer <key>` (MESH_API_KEYS); none: the API is open. */
  readonly apiKeys: readonly string[];
  /** Bearer JWTs the HTTP API accepts beside the keys (MESH_JWT_*); undefined: none. */
  readonly jwt?: MeshJwtConfig;
  /** Requests per window per client (key, JWT `sub`, or IP without auth); limit 0: no limit. */
  readonly rateLimit: { readonly limit: number; readonly windowMs: number };
  /** The address HTTP listens on (MESH_BIND): 127.0.0.1 when neither API keys nor JWT are set, else 0.0.0.0. */
  readonly bind: string;
  /** The largest HTTP request body (MESH_BODY_LIMIT, body-parser syntax: `5mb`); larger ones answer 413. */
  readonly bodyLimit: string;
  /** Blackboards this mesh serves (topics `blackboard.<board>`). */
  readonly boards: readonly string[];
  /** How long shutdown waits for in-flight handlers before closing anyway. */
  readonly drainTimeoutMs: number;
  /** Where the orchestrator finds the built console (MESH_CONSOLE_DIR; default `dist/console` under the working directory). */
  readonly consoleDir: string;
  readonly llm?: {
    readonly baseUrl: string;
    readonly model?: string;
    readonly apiKey?: string;
    /** Model → price per million tokens (LLM_PRICES): each call's usage is recorded with its cost. */
    readonly prices: LlmPriceTable;
    /** Server name → URL (LLM_MCP_SERVERS): the MCP servers a spec's `tools` may name. */
    readonly mcpServers: McpServerTable;
  };
  /** The LLM limits shared by every worker (LLM_MAX_RPM, LLM_MAX_TPM, LLM_MAX_CONCURRENCY; absent: none) and the journal's TTL (LLM_JOURNAL_TTL_S, default 7 days). */
  readonly llmGateway: {
    readonly maxRpm?: number;
    readonly maxTpm?: number;
    readonly maxConcurrency?: number;
    readonly journalTtlSeconds: number;
  };
  readonly otlpEndpoint?: string;
  /** How often each agent publishes its heartbeat (MESH_HEARTBEAT_MS, default 5 s; 0: never). */
  readonly heartbeatMs: number;
  /** How often the sampling role publishes broker stats (MESH_STATS_MS, default 10 s; 0: never). */
  readonly statsMs: number;
  /** The other regions' Pulsar admin URLs (MESH_GEO_PEER_WEB_URLS): `mesh geo` joins this cluster (PULSAR_WEB_URL) with them. */
  readonly geoPeerWebUrls: readonly string[];
  /**
   * MESH_GEO_AUTO_FAILOVER_MS: a peer region with no heartbeat on `mesh.agents` for this long is
   * adopted by this region's orchestrators (one of them); 0 (default): fail over by hand only.
   */
  readonly geoAutoFailoverMs: number;
  /** `LOG_LEVEL`, default info. */
  readonly logLevel: LogLevel;
  /** `OTEL_SERVICE_NAME`; unset: `agent-mesh-<role>`. */
  readonly otelServiceName?: string;
}

/** How Bearer JWTs are verified: signed by a key of `jwksUrl`, issued by `issuer`, for `audience`. */
export interface MeshJwtConfig {
  readonly issuer: string;
  readonly jwksUrl: string;
  readonly audience?: string;
}

/**
 * 1,000 requests a second per client: above anything a real client of ours does (the benchmark
 * submits ~150 workflows a second, a test polls a workflow every 20 ms), a wall for a runaway one.
 */
export const DEFAULT_RATE_LIMIT = 1_000;
export const DEFAULT_RATE_LIMIT_WINDOW_MS = 1_000;

export class MeshConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'MeshConfigError';
  }
}

/** The largest HTTP request body by default: real specs, with room (a 1,000-input fan-out of 4 kB texts). */
export const DEFAULT_BODY_LIMIT = '5mb';

/** Where `nx build console` writes the console, relative to the working directory (the repo's root). */
export const DEFAULT_CONSOLE_DIR = 'dist/console';

/** Settings whose values are secrets: never printed. */
const SECRET_SETTINGS: ReadonlySet<string> = new Set([
  'MESH_API_KEYS',
  'PULSAR_TOKEN',
  'LLM_API_KEY',
  'REDIS_PASSWORD',
]);
/** The shortest API key accepted (a guessable key is no key). */
export const MIN_API_KEY_LENGTH = 16;

/** Heartbeats every 5 s and broker stats every 10 s by default. */
export const DEFAULT_HEARTBEAT_MS = 5_000;
export const DEFAULT_STATS_MS = 10_000;

/** An ended workflow's state is kept 7 days by default. */
export const DEFAULT_WORKFLOW_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/** How long a journaled LLM completion is kept (LLM_JOURNAL_TTL_S): 7 days. */
export const DEFAULT_LLM_JOURNAL_TTL_S = 7 * 24 * 60 * 60;

const INTEGER_SETTINGS = [
  'PORT',
  'TASK_TIMEOUT_MS',
  'DRAIN_TIMEOUT_MS',
  'PULSAR_PRODUCER_IDLE_MS',
  'WORKFLOW_DEADLINE_MS',
  'WORKFLOW_RETENTION_MS',
  'MESH_HEARTBEAT_MS',
  'MESH_STATS_MS',
  'MESH_GEO_AUTO_FAILOVER_MS',
  'MESH_RATE_LIMIT',
  'MESH_RATE_LIMIT_WINDOW_MS',
  'LLM_MAX_RPM',
  'LLM_MAX_TPM',
  'LLM_MAX_CONCURRENCY',
  'LLM_JOURNAL_TTL_S',
] as const;

/**
 * Validates the environment. Every problem is reported at once, each naming its setting, so a
 * bad deployment stops at start-up instead of failing later.
 */
export function validateMeshEnvironment(
  env: Readonly<Record<string, unknown>>,
  defaults: { port?: number } = {},
): MeshConfig {
  const plain: Record<string, unknown> = {};
  for (const key of MESH_SETTING_NAMES) {
    const value = env[key];
    if (value === undefined || value === '') continue;
    plain[key] = value;
  }
  for (const key of INTEGER_SETTINGS) {
    const value = plain[key];
    if (typeof value === 'string') plain[key] = /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  }
  const parsed = plainToInstance(MeshEnvironment, plain);
  const errors = flattenValidationErrors(validateSync(parsed));
  // A secret's value is never shown, not even in a start-up error; nor are a URL's credentials.
  const problems = errors.map(
    (e) =>
      `${e.messages.join('; ')}${SECRET_SETTINGS.has(e.field) ? '' : ` (got ${redactCredentials(JSON.stringify(plain[e.field]))})`}`,
  );
  const apiKeys = (parsed.MESH_API_KEYS ?? '')
    .split(',')
    .map((key) => key.trim())
    .filter((key) => key.length > 0);
  if (apiKeys.some((key) => key.length < MIN_API_KEY_LENGTH || /\s/.test(key)))
    problems.push(
      `MESH_API_KEYS must be a comma-separated list of keys of at least ${MIN_API_KEY_LENGTH} characters without spaces (values not shown)`,
    );
  if (parsed.MESH_TRANSPORT === 'pulsar' && !parsed.PULSAR_WEB_URL && !parsed.PULSAR_SERVICE_URL) {
    problems.push(
      'MESH_TRANSPORT=pulsar needs PULSAR_WEB_URL (WebSocket driver) or PULSAR_SERVICE_URL (native driver)',
    );
  }
  const pulsarToken = pulsarTokenOf(parsed, problems);
  checkTlsCaFile(parsed.PULSAR_TLS_CA_FILE, problems);
  const geoPeerWebUrls = (parsed.MESH_GEO_PEER_WEB_URLS ?? '')
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url.length > 0);
  const badPeer = geoPeerWebUrls.find((url) => !/^https?:\/\/[^/\s]+/.test(url));
  if (badPeer !== undefined)
    problems.push(`MESH_GEO_PEER_WEB_URLS must be comma-separated http(s) URLs (got ${JSON.stringify(badPeer)})`);
  const geoAutoFailoverMs = parsed.MESH_GEO_AUTO_FAILOVER_MS ?? 0;
  if (geoAutoFailoverMs > 0 && geoPeerWebUrls.length === 0)
    problems.push(
      'MESH_GEO_AUTO_FAILOVER_MS needs MESH_GEO_PEER_WEB_URLS: automatic fail-over is for a region in a geo set',
    );
  if (geoAutoFailoverMs > 0 && (parsed.MESH_HEARTBEAT_MS ?? 1) === 0)
    problems.push('MESH_GEO_AUTO_FAILOVER_MS needs heartbeats (MESH_HEARTBEAT_MS > 0): it watches the peers’ ones');
  if (!parsed.MESH_JWT_ISSUER !== !parsed.MESH_JWT_JWKS_URL) {
    problems.push('MESH_JWT_ISSUER and MESH_JWT_JWKS_URL go together: set both to accept JWTs, or neither');
  }
  if (parsed.MESH_JWT_JWKS_URL && /^[a-z]+:\/\/[^/]*@/i.test(parsed.MESH_JWT_JWKS_URL)) {
    problems.push('MESH_JWT_JWKS_URL must not carry user:password@ (fetch refuses it; a token in the query works)');
  }
  if (parsed.MESH_JWT_AUDIENCE && !parsed.MESH_JWT_ISSUER) {
    problems.push('MESH_JWT_AUDIENCE needs MESH_JWT_ISSUER and MESH_JWT_JWKS_URL');
  }
  if (parsed.LLM_BASE_URL && !parsed.LLM_MODEL) {
    problems.push('LLM_MODEL is required when LLM_BASE_URL is set (the model name the endpoint serves)');
  }
  const prices = checked(() => parseLlmPrices(parsed.LLM_PRICES), {}, problems);
  const mcpServers = checked(() => parseMcpServers(parsed.LLM_MCP_SERVERS), {}, problems);
  const redisSecurity = readRedisSecurity(parsed, problems);
  if (problems.length > 0) throw new MeshConfigError(problems);
  const jwt =
    parsed.MESH_JWT_ISSUER && parsed.MESH_JWT_JWKS_URL
      ? { issuer: parsed.MESH_JWT_ISSUER, jwksUrl: parsed.MESH_JWT_JWKS_URL, audience: parsed.MESH_JWT_AUDIENCE }
      : undefined;
  return {
    transport: (parsed.MESH_TRANSPORT ?? 'memory') as MeshTransportKind,
    pulsarServiceUrl: parsed.PULSAR_SERVICE_URL,
    pulsarWebUrl: parsed.PULSAR_WEB_URL,
    pulsarToken,
    pulsarTlsCaFile: parsed.PULSAR_TLS_CA_FILE,
    pulsarProducerIdleMs: parsed.PULSAR_PRODUCER_IDLE_MS,
    naming: { tenant: parsed.PULSAR_TENANT ?? 'agentmesh', namespace: parsed.PULSAR_NAMESPACE ?? 'mesh' },
    region: parsed.MESH_REGION ?? 'local',
    instanceId:
      parsed.MESH_INSTANCE_ID ??
      `${hostname()
        .replace(/[^a-zA-Z0-9_-]/g, '-')
        .slice(0, 40)}-${process.pid}`,
    redisUrl: parsed.REDIS_URL,
    redisKeyPrefix: parsed.REDIS_KEY_PREFIX,
    redisSecurity,
    port: parsed.PORT ?? defaults.port ?? 3000,
    workerSkills: parsed.WORKER_SKILLS?.split(','),
    taskTimeoutMs: parsed.TASK_TIMEOUT_MS ?? 60_000,
    workflowRetentionMs: parsed.WORKFLOW_RETENTION_MS ?? DEFAULT_WORKFLOW_RETENTION_MS,
    workflowDeadlineMs: parsed.WORKFLOW_DEADLINE_MS ?? DEFAULT_WORKFLOW_DEADLINE_MS,
    drainTimeoutMs: parsed.DRAIN_TIMEOUT_MS ?? 30_000,
    boards: parsed.MESH_BOARDS?.split(',') ?? ['default'],
    bodyLimit: parsed.MESH_BODY_LIMIT ?? DEFAULT_BODY_LIMIT,
    apiKeys,
    jwt,
    rateLimit: {
      limit: parsed.MESH_RATE_LIMIT ?? DEFAULT_RATE_LIMIT,
      windowMs: parsed.MESH_RATE_LIMIT_WINDOW_MS ?? DEFAULT_RATE_LIMIT_WINDOW_MS,
    },
    bind: parsed.MESH_BIND ?? (apiKeys.length > 0 || jwt ? '0.0.0.0' : '127.0.0.1'),
    consoleDir: resolve(parsed.MESH_CONSOLE_DIR ?? DEFAULT_CONSOLE_DIR),
    llm: parsed.LLM_BASE_URL
      ? { baseUrl: parsed.LLM_BASE_URL, model: parsed.LLM_MODEL, apiKey: parsed.LLM_API_KEY, prices, mcpServers }
      : undefined,
    llmGateway: {
      maxRpm: parsed.LLM_MAX_RPM,
      maxTpm: parsed.LLM_MAX_TPM,
      maxConcurrency: parsed.LLM_MAX_CONCURRENCY,
      journalTtlSeconds: parsed.LLM_JOURNAL_TTL_S ?? DEFAULT_LLM_JOURNAL_TTL_S,
    },
    otlpEndpoint: parsed.OTEL_EXPORTER_OTLP_ENDPOINT,
    heartbeatMs: parsed.MESH_HEARTBEAT_MS ?? DEFAULT_HEARTBEAT_MS,
    statsMs: parsed.MESH_STATS_MS ?? DEFAULT_STATS_MS,
    geoPeerWebUrls,
    geoAutoFailoverMs,
    logLevel: (parsed.LOG_LEVEL ?? 'info') as LogLevel,
    otelServiceName: parsed.OTEL_SERVICE_NAME,
  };
}

/** The parse's value, or `fallback` with its error's message (which names the setting) added to the problems. */
function checked<T>(parse: () => T, fallback: T, problems: string[]): T {
  try {
    return parse();
  } catch (error) {
    problems.push(redactCredentials(error instanceof Error ? error.message : String(error)));
    return fallback;
  }
}

/** A JWT as Pulsar's token authentication takes it: header.payload.signature, base64url. */
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

function fileProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ?? (error as Error).message;
}

/**
 * The broker token from PULSAR_TOKEN or the file PULSAR_TOKEN_FILE names (one of them). A problem
 * names the setting, never the token.
 */
function pulsarTokenOf(parsed: MeshEnvironment, problems: string[]): string | undefined {
  // Not strings: @IsString already reported them.
  const value = typeof parsed.PULSAR_TOKEN === 'string' ? parsed.PULSAR_TOKEN : undefined;
  const file = typeof parsed.PULSAR_TOKEN_FILE === 'string' ? parsed.PULSAR_TOKEN_FILE : undefined;
  if (value && file) {
    problems.push('PULSAR_TOKEN and PULSAR_TOKEN_FILE are both set: set one of them');
    return undefined;
  }
  let token = value?.trim();
  let setting = 'PULSAR_TOKEN';
  if (file) {
    setting = `PULSAR_TOKEN_FILE (${file})`;
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (error) {
      problems.push(`PULSAR_TOKEN_FILE cannot be read: ${fileProblem(error)} (${file})`);
      return undefined;
    }
  }
  if (token === undefined) return undefined;
  if (!JWT.test(token)) {
    problems.push(
      `${setting} must hold one JWT (header.payload.signature, as \`pulsar tokens create\` prints it; value not shown)`,
    );
    return undefined;
  }
  return token;
}

/** PULSAR_TLS_CA_FILE must be a readable PEM certificate file. */
function checkTlsCaFile(file: unknown, problems: string[]): void {
  if (typeof file !== 'string' || !file) return;
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    problems.push(`PULSAR_TLS_CA_FILE cannot be read: ${fileProblem(error)} (${file})`);
    return;
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    problems.push(`PULSAR_TLS_CA_FILE must be a PEM certificate file (-----BEGIN CERTIFICATE-----), got ${file}`);
}

/** Every setting name, checked against MeshEnvironment by the compiler so the list cannot drift. */
class MeshEnvironmentKeys implements Record<keyof MeshEnvironment, undefined> {
  MESH_TRANSPORT = undefined;
  PULSAR_SERVICE_URL = undefined;
  PULSAR_WEB_URL = undefined;
  PULSAR_TOKEN = undefined;
  PULSAR_TOKEN_FILE = undefined;
  PULSAR_TLS_CA_FILE = undefined;
  PULSAR_TENANT = undefined;
  PULSAR_NAMESPACE = undefined;
  PULSAR_PRODUCER_IDLE_MS = undefined;
  MESH_REGION = undefined;
  MESH_INSTANCE_ID = undefined;
  REDIS_URL = undefined;
  REDIS_KEY_PREFIX = undefined;
  REDIS_USERNAME = undefined;
  REDIS_PASSWORD = undefined;
  REDIS_PASSWORD_FILE = undefined;
  REDIS_TLS_CA_FILE = undefined;
  REDIS_TLS_CERT_FILE = undefined;
  REDIS_TLS_KEY_FILE = undefined;
  PORT = undefined;
  WORKER_SKILLS = undefined;
  TASK_TIMEOUT_MS = undefined;
  WORKFLOW_RETENTION_MS = undefined;
  DRAIN_TIMEOUT_MS = undefined;
  MESH_BOARDS = undefined;
  MESH_BODY_LIMIT = undefined;
  MESH_API_KEYS = undefined;
  MESH_BIND = undefined;
  MESH_CONSOLE_DIR = undefined;
  WORKFLOW_DEADLINE_MS = undefined;
  LLM_BASE_URL = undefined;
  LLM_MODEL = undefined;
  LLM_API_KEY = undefined;
  LLM_PRICES = undefined;
  LLM_MCP_SERVERS = undefined;
  LLM_MAX_RPM = undefined;
  LLM_MAX_TPM = undefined;
  LLM_MAX_CONCURRENCY = undefined;
  LLM_JOURNAL_TTL_S = undefined;
  OTEL_EXPORTER_OTLP_ENDPOINT = undefined;
  MESH_HEARTBEAT_MS = undefined;
  MESH_STATS_MS = undefined;
  MESH_GEO_PEER_WEB_URLS = undefined;
  MESH_GEO_AUTO_FAILOVER_MS = undefined;
  LOG_LEVEL = undefined;
  OTEL_SERVICE_NAME = undefined;
  MESH_RATE_LIMIT = undefined;
  MESH_RATE_LIMIT_WINDOW_MS = undefined;
  MESH_JWT_ISSUER = undefined;
  MESH_JWT_JWKS_URL = undefined;
  MESH_JWT_AUDIENCE = undefined;
}

export const MESH_SETTING_NAMES: readonly (keyof MeshEnvironment)[] = Object.keys(
  new MeshEnvironmentKeys(),
) as (keyof MeshEnvironment)[];
