import { hostname } from 'node:os';
import { plainToInstance } from 'class-transformer';
import { IsIn, IsInt, IsIP, IsOptional, IsString, IsUrl, Matches, Max, Min, validateSync } from 'class-validator';
import { flattenValidationErrors, MAX_DEADLINE_MS, type TopicNaming } from '@agent-mesh/contracts';

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
  @Matches(NAME, { message: 'PULSAR_TENANT must be letters, digits, _ or -' })
  PULSAR_TENANT?: string;

  @IsOptional()
  @Matches(NAME, { message: 'PULSAR_NAMESPACE must be letters, digits, _ or -' })
  PULSAR_NAMESPACE?: string;

  @IsOptional()
  @Matches(NAME, { message: 'MESH_REGION must be letters, digits, _ or - (e.g. us-east)' })
  MESH_REGION?: string;

  @IsOptional()
  @Matches(NAME, { message: 'MESH_INSTANCE_ID must be letters, digits, _ or -' })
  MESH_INSTANCE_ID?: string;

  @IsOptional()
  @IsUrl(
    { protocols: ['redis', 'rediss'], require_tld: false, require_protocol: true },
    {
      message: 'REDIS_URL must be a redis:// or rediss:// URL',
    },
  )
  REDIS_URL?: string;

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

  @IsOptional()
  @IsUrl(
    { protocols: ['http', 'https'], require_tld: false, require_protocol: true },
    {
      message: 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL',
    },
  )
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
}

export type MeshTransportKind = 'memory' | 'pulsar';

/** Validated, typed configuration of one agent process. */
export interface MeshConfig {
  readonly transport: MeshTransportKind;
  readonly pulsarServiceUrl?: string;
  readonly pulsarWebUrl?: string;
  readonly pulsarToken?: string;
  readonly naming: TopicNaming;
  readonly region: string;
  readonly instanceId: string;
  readonly redisUrl?: string;
  /** Prefix of every Redis key; default `agentmesh:`. */
  readonly redisKeyPrefix?: string;
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
  /** The address HTTP listens on (MESH_BIND): 127.0.0.1 when no API key is set, else 0.0.0.0. */
  readonly bind: string;
  /** The largest HTTP request body (MESH_BODY_LIMIT, body-parser syntax: `5mb`); larger ones answer 413. */
  readonly bodyLimit: string;
  /** Blackboards this mesh serves (topics `blackboard.<board>`). */
  readonly boards: readonly string[];
  /** How long shutdown waits for in-flight handlers before closing anyway. */
  readonly drainTimeoutMs: number;
  readonly llm?: { readonly baseUrl: string; readonly model?: string; readonly apiKey?: string };
  readonly otlpEndpoint?: string;
}

export class MeshConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'MeshConfigError';
  }
}

/** The largest HTTP request body by default: real specs, with room (a 1,000-input fan-out of 4 kB texts). */
export const DEFAULT_BODY_LIMIT = '5mb';

/** Settings whose values are secrets: never printed. */
const SECRET_SETTINGS: ReadonlySet<string> = new Set(['MESH_API_KEYS', 'PULSAR_TOKEN', 'LLM_API_KEY']);
/** The shortest API key accepted (a guessable key is no key). */
export const MIN_API_KEY_LENGTH = 16;

/** An ended workflow's state is kept 7 days by default. */
export const DEFAULT_WORKFLOW_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

const INTEGER_SETTINGS = [
  'PORT',
  'TASK_TIMEOUT_MS',
  'DRAIN_TIMEOUT_MS',
  'WORKFLOW_DEADLINE_MS',
  'WORKFLOW_RETENTION_MS',
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
  // A secret's value is never shown, not even in a start-up error.
  const problems = errors.map(
    (e) => `${e.messages.join('; ')}${SECRET_SETTINGS.has(e.field) ? '' : ` (got ${JSON.stringify(plain[e.field])})`}`,
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
  if (parsed.LLM_BASE_URL && !parsed.LLM_MODEL) {
    problems.push('LLM_MODEL is required when LLM_BASE_URL is set (the model name the endpoint serves)');
  }
  if (problems.length > 0) throw new MeshConfigError(problems);
  return {
    transport: (parsed.MESH_TRANSPORT ?? 'memory') as MeshTransportKind,
    pulsarServiceUrl: parsed.PULSAR_SERVICE_URL,
    pulsarWebUrl: parsed.PULSAR_WEB_URL,
    pulsarToken: parsed.PULSAR_TOKEN,
    naming: { tenant: parsed.PULSAR_TENANT ?? 'agentmesh', namespace: parsed.PULSAR_NAMESPACE ?? 'mesh' },
    region: parsed.MESH_REGION ?? 'local',
    instanceId:
      parsed.MESH_INSTANCE_ID ??
      `${hostname()
        .replace(/[^a-zA-Z0-9_-]/g, '-')
        .slice(0, 40)}-${process.pid}`,
    redisUrl: parsed.REDIS_URL,
    redisKeyPrefix: parsed.REDIS_KEY_PREFIX,
    port: parsed.PORT ?? defaults.port ?? 3000,
    workerSkills: parsed.WORKER_SKILLS?.split(','),
    taskTimeoutMs: parsed.TASK_TIMEOUT_MS ?? 60_000,
    workflowRetentionMs: parsed.WORKFLOW_RETENTION_MS ?? DEFAULT_WORKFLOW_RETENTION_MS,
    workflowDeadlineMs: parsed.WORKFLOW_DEADLINE_MS ?? DEFAULT_WORKFLOW_DEADLINE_MS,
    drainTimeoutMs: parsed.DRAIN_TIMEOUT_MS ?? 30_000,
    boards: parsed.MESH_BOARDS?.split(',') ?? ['default'],
    bodyLimit: parsed.MESH_BODY_LIMIT ?? DEFAULT_BODY_LIMIT,
    apiKeys,
    bind: parsed.MESH_BIND ?? (apiKeys.length > 0 ? '0.0.0.0' : '127.0.0.1'),
    llm: parsed.LLM_BASE_URL
      ? { baseUrl: parsed.LLM_BASE_URL, model: parsed.LLM_MODEL, apiKey: parsed.LLM_API_KEY }
      : undefined,
    otlpEndpoint: parsed.OTEL_EXPORTER_OTLP_ENDPOINT,
  };
}

/** Every setting name, checked against MeshEnvironment by the compiler so the list cannot drift. */
class MeshEnvironmentKeys implements Record<keyof MeshEnvironment, undefined> {
  MESH_TRANSPORT = undefined;
  PULSAR_SERVICE_URL = undefined;
  PULSAR_WEB_URL = undefined;
  PULSAR_TOKEN = undefined;
  PULSAR_TENANT = undefined;
  PULSAR_NAMESPACE = undefined;
  MESH_REGION = undefined;
  MESH_INSTANCE_ID = undefined;
  REDIS_URL = undefined;
  REDIS_KEY_PREFIX = undefined;
  PORT = undefined;
  WORKER_SKILLS = undefined;
  TASK_TIMEOUT_MS = undefined;
  WORKFLOW_RETENTION_MS = undefined;
  DRAIN_TIMEOUT_MS = undefined;
  MESH_BOARDS = undefined;
  MESH_BODY_LIMIT = undefined;
  MESH_API_KEYS = undefined;
  MESH_BIND = undefined;
  WORKFLOW_DEADLINE_MS = undefined;
  LLM_BASE_URL = undefined;
  LLM_MODEL = undefined;
  LLM_API_KEY = undefined;
  OTEL_EXPORTER_OTLP_ENDPOINT = undefined;
}

export const MESH_SETTING_NAMES: readonly (keyof MeshEnvironment)[] = Object.keys(
  new MeshEnvironmentKeys(),
) as (keyof MeshEnvironment)[];
