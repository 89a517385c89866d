import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { MemoryBroker } from '@agent-mesh/bus';
import { bootstrapAgent } from './bootstrap';
import { MeshConfigError, validateMeshEnvironment } from './mesh-config';
import { MeshRuntimeModule } from './mesh-runtime.module';

describe('validateMeshEnvironment', () => {
  it('gives the documented defaults for an empty environment', () => {
    const config = validateMeshEnvironment({}, { port: 3001 });
    expect(config).toMatchObject({
      transport: 'memory',
      naming: { tenant: 'agentmesh', namespace: 'mesh' },
      region: 'local',
      port: 3001,
      taskTimeoutMs: 60_000,
      workflowDeadlineMs: 3_600_000,
      workflowRetentionMs: 7 * 24 * 3_600_000,
      bodyLimit: '5mb',
    });
    expect(config.redisUrl).toBeUndefined();
    expect(config.workerSkills).toBeUndefined();
  });

  it('finds the built console under dist/console of the working directory, or at MESH_CONSOLE_DIR', () => {
    expect(validateMeshEnvironment({}).consoleDir).toBe(join(process.cwd(), 'dist', 'console'));
    expect(validateMeshEnvironment({ MESH_CONSOLE_DIR: '/srv/console' }).consoleDir).toBe('/srv/console');
    expect(validateMeshEnvironment({ MESH_CONSOLE_DIR: 'web' }).consoleDir).toBe(join(process.cwd(), 'web'));
  });

  it('reads every setting', () => {
    const config = validateMeshEnvironment({
      MESH_TRANSPORT: 'pulsar',
      PULSAR_WEB_URL: 'http://127.0.0.1:8080',
      PULSAR_TENANT: 'acme',
      PULSAR_NAMESPACE: 'agents',
      MESH_REGION: 'eu-west',
      MESH_INSTANCE_ID: 'w-7',
      REDIS_URL: 'redis://cache:6380/2',
      PORT: '4000',
      WORKER_SKILLS: 'keywords,sentiment',
      TASK_TIMEOUT_MS: '2500',
      WORKFLOW_DEADLINE_MS: '90000',
      LLM_BASE_URL: 'http://127.0.0.1:11434/v1',
      LLM_MODEL: 'tiny',
      LLM_PRICES: '{"tiny": {"inputPerMTok": 0.15, "outputPerMTok": 0.6}}',
      LLM_MCP_SERVERS: 'search=http://127.0.0.1:9100/mcp,files=https://tools.example/mcp',
    });
    expect(config).toMatchObject({
      transport: 'pulsar',
      pulsarWebUrl: 'http://127.0.0.1:8080',
      naming: { tenant: 'acme', namespace: 'agents' },
      region: 'eu-west',
      instanceId: 'w-7',
      redisUrl: 'redis://cache:6380/2',
      port: 4000,
      workerSkills: ['keywords', 'sentiment'],
      taskTimeoutMs: 2500,
      workflowDeadlineMs: 90_000,
      llm: {
        baseUrl: 'http://127.0.0.1:11434/v1',
        model: 'tiny',
        prices: { tiny: { inputPerMTok: 0.15, outputPerMTok: 0.6 } },
        mcpServers: { search: 'http://127.0.0.1:9100/mcp', files: 'https://tools.example/mcp' },
      },
    });
  });

  it.each([
    [{ MESH_TRANSPORT: 'kafka' }, 'MESH_TRANSPORT'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ MESH_REGION: 'us east' }, 'MESH_REGION'],
    [{ WORKER_SKILLS: 'Keywords;x' }, 'WORKER_SKILLS'],
    [{ PULSAR_WEB_URL: 'ftp://x' }, 'PULSAR_WEB_URL'],
    [{ MESH_TRANSPORT: 'pulsar' }, 'PULSAR_WEB_URL'],
    [{ LLM_BASE_URL: 'http://127.0.0.1:1/v1' }, 'LLM_MODEL'],
    [{ LLM_PRICES: 'cheap' }, 'LLM_PRICES'],
    [{ LLM_PRICES: '{"m": {"inputPerMTok": "free"}}' }, 'LLM_PRICES'],
    [{ LLM_MCP_SERVERS: 'http://127.0.0.1:9100/mcp' }, 'LLM_MCP_SERVERS'],
    [{ LLM_MCP_SERVERS: 'search=file:///etc/passwd' }, 'LLM_MCP_SERVERS'],
    [{ WORKFLOW_DEADLINE_MS: '0' }, 'WORKFLOW_DEADLINE_MS'],
    [{ WORKFLOW_DEADLINE_MS: 'an hour' }, 'WORKFLOW_DEADLINE_MS'],
    [{ WORKFLOW_DEADLINE_MS: '1.5' }, 'WORKFLOW_DEADLINE_MS'],
    [{ WORKFLOW_DEADLINE_MS: String(8 * 86_400_000) }, 'WORKFLOW_DEADLINE_MS'],
    [{ MESH_BODY_LIMIT: '5 MB' }, 'MESH_BODY_LIMIT'],
    [{ WORKFLOW_RETENTION_MS: '0' }, 'WORKFLOW_RETENTION_MS'],
    [{ MESH_HEARTBEAT_MS: '-1' }, 'MESH_HEARTBEAT_MS'],
    [{ MESH_HEARTBEAT_MS: '5s' }, 'MESH_HEARTBEAT_MS'],
    [{ MESH_STATS_MS: '-5' }, 'MESH_STATS_MS'],
    [{ MESH_STATS_MS: 'often' }, 'MESH_STATS_MS'],
    [{ PULSAR_PRODUCER_IDLE_MS: '-1' }, 'PULSAR_PRODUCER_IDLE_MS'],
    [{ PULSAR_PRODUCER_IDLE_MS: '1m' }, 'PULSAR_PRODUCER_IDLE_MS'],
    [{ MESH_GEO_PEER_WEB_URLS: 'http://127.0.0.1:8090,127.0.0.1:8091' }, 'MESH_GEO_PEER_WEB_URLS'],
    [{ MESH_GEO_AUTO_FAILOVER_MS: '-1' }, 'MESH_GEO_AUTO_FAILOVER_MS'],
    [{ MESH_GEO_AUTO_FAILOVER_MS: 'soon' }, 'MESH_GEO_AUTO_FAILOVER_MS'],
    [{ MESH_GEO_AUTO_FAILOVER_MS: '30000' }, 'MESH_GEO_PEER_WEB_URLS'],
    [
      { MESH_GEO_AUTO_FAILOVER_MS: '30000', MESH_GEO_PEER_WEB_URLS: 'http://127.0.0.1:8090', MESH_HEARTBEAT_MS: '0' },
      'MESH_HEARTBEAT_MS',
    ],
    [{ MESH_RATE_LIMIT: '-1' }, 'MESH_RATE_LIMIT'],
    [{ MESH_RATE_LIMIT: 'lots' }, 'MESH_RATE_LIMIT'],
    [{ MESH_RATE_LIMIT_WINDOW_MS: '0' }, 'MESH_RATE_LIMIT_WINDOW_MS'],
    [{ MESH_JWT_ISSUER: 'https://idp.example' }, 'MESH_JWT_JWKS_URL'],
    [{ MESH_JWT_JWKS_URL: 'https://idp.example/jwks.json' }, 'MESH_JWT_ISSUER'],
    [{ MESH_JWT_ISSUER: 'https://idp.example', MESH_JWT_JWKS_URL: 'file:///jwks' }, 'MESH_JWT_JWKS_URL'],
    [{ MESH_JWT_AUDIENCE: 'mesh' }, 'MESH_JWT_AUDIENCE'],
    [
      { MESH_JWT_ISSUER: 'https://idp.example', MESH_JWT_JWKS_URL: 'https://u:p@idp.example/jwks' },
      'MESH_JWT_JWKS_URL',
    ],
  ])('rejects %j naming %s', (env, setting) => {
    expect(() => validateMeshEnvironment(env)).toThrow(MeshConfigError);
    expect(() => validateMeshEnvironment(env)).toThrow(setting);
  });

  it('heartbeats every 5 s and broker stats every 10 s unless MESH_HEARTBEAT_MS / MESH_STATS_MS say otherwise (0: never)', () => {
    expect(validateMeshEnvironment({})).toMatchObject({ heartbeatMs: 5_000, statsMs: 10_000 });
    expect(validateMeshEnvironment({ MESH_HEARTBEAT_MS: '1000', MESH_STATS_MS: '0' })).toMatchObject({
      heartbeatMs: 1_000,
      statsMs: 0,
    });
  });

  it('passes PULSAR_PRODUCER_IDLE_MS on to the bus (unset: the bus default; 0: never close)', () => {
    expect(validateMeshEnvironment({}).pulsarProducerIdleMs).toBeUndefined();
    expect(validateMeshEnvironment({ PULSAR_PRODUCER_IDLE_MS: '0' }).pulsarProducerIdleMs).toBe(0);
    expect(validateMeshEnvironment({ PULSAR_PRODUCER_IDLE_MS: '15000' }).pulsarProducerIdleMs).toBe(15_000);
  });

  it('never shows a secret in its error, and keys must be long enough', () => {
    const secret = 'short-key';
    try {
      validateMeshEnvironment({ MESH_API_KEYS: `${secret},another-short`, PULSAR_TOKEN: 42, LLM_API_KEY: 7 });
      throw new Error('expected a MeshConfigError');
    } catch (error) {
      const message = (error as MeshConfigError).message;
      expect(message).toMatch(/MESH_API_KEYS must be .* at least 16 characters/);
      expect(message).not.toContain(secret);
    }
    const config = validateMeshEnvironment({ MESH_API_KEYS: ' 0123456789abcdef , fedcba9876543210 ' });
    expect(config.apiKeys).toEqual(['0123456789abcdef', 'fedcba9876543210']);
    expect(config.bind).toBe('0.0.0.0');
    expect(validateMeshEnvironment({}).bind).toBe('127.0.0.1');
    expect(validateMeshEnvironment({ MESH_BIND: '0.0.0.0' }).bind).toBe('0.0.0.0');
    expect(() => validateMeshEnvironment({ MESH_BIND: 'everywhere' })).toThrow(/MESH_BIND/);
  });

  describe('broker token and TLS CA', () => {
    const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtZXNoIn0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';
    const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    let dir: string;
    beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'mesh-config-'))));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const file = (name: string, content: string): string => {
      const path = join(dir, name);
      writeFileSync(path, content, { mode: 0o600 });
      return path;
    };
    const problemsOf = (env: Record<string, unknown>): string => {
      try {
        validateMeshEnvironment(env);
      } catch (error) {
        return (error as MeshConfigError).message;
      }
      throw new Error('expected a MeshConfigError');
    };

    it('takes the token from PULSAR_TOKEN or from the file PULSAR_TOKEN_FILE names (trimmed), and the CA file', () => {
      expect(validateMeshEnvironment({ PULSAR_TOKEN: JWT }).pulsarToken).toBe(JWT);
      const config = validateMeshEnvironment({
        PULSAR_TOKEN_FILE: file('mesh.token', `${JWT}\n`),
        PULSAR_TLS_CA_FILE: file('ca.crt', CA),
      });
      expect(config.pulsarToken).toBe(JWT);
      expect(config.pulsarTlsCaFile).toBe(join(dir, 'ca.crt'));
      expect(validateMeshEnvironment({}).pulsarToken).toBeUndefined();
    });

    it('stops on a token that is not one JWT, naming the setting and never the value', () => {
      const pasted = `${JWT} ${JWT}`;
      const message = problemsOf({ PULSAR_TOKEN: pasted });
      expect(message).toMatch(/PULSAR_TOKEN must hold one JWT .*value not shown/);
      expect(message).not.toContain(JWT);
      const inFile = problemsOf({ PULSAR_TOKEN_FILE: file('bad.token', 'Bearer abc.def') });
      expect(inFile).toMatch(/PULSAR_TOKEN_FILE \(.*bad\.token\) must hold one JWT/);
      expect(inFile).not.toContain('abc.def');
    });

    it('stops on both token settings, an unreadable token file, and a CA file that is missing or not PEM', () => {
      expect(problemsOf({ PULSAR_TOKEN: JWT, PULSAR_TOKEN_FILE: file('t', JWT) })).toMatch(
        /PULSAR_TOKEN and PULSAR_TOKEN_FILE are both set/,
      );
      expect(problemsOf({ PULSAR_TOKEN_FILE: join(dir, 'missing.token') })).toMatch(
        /PULSAR_TOKEN_FILE cannot be read: ENOENT \(.*missing\.token\)/,
      );
      expect(problemsOf({ PULSAR_TLS_CA_FILE: join(dir, 'missing.crt') })).toMatch(
        /PULSAR_TLS_CA_FILE cannot be read: ENOENT/,
      );
      expect(problemsOf({ PULSAR_TLS_CA_FILE: file('key.pem', '-----BEGIN PRIVATE KEY-----') })).toMatch(
        /PULSAR_TLS_CA_FILE must be a PEM certificate file/,
      );
    });
  });

  it('reads the geo peers: none by default, else a comma-separated list of admin URLs', () => {
    expect(validateMeshEnvironment({}).geoPeerWebUrls).toEqual([]);
    expect(
      validateMeshEnvironment({ MESH_GEO_PEER_WEB_URLS: ' http://127.0.0.1:8090 , https://pulsar.eu-west:8443 ' })
        .geoPeerWebUrls,
    ).toEqual(['http://127.0.0.1:8090', 'https://pulsar.eu-west:8443']);
    expect(validateMeshEnvironment({}).geoAutoFailoverMs).toBe(0);
    expect(
      validateMeshEnvironment({ MESH_GEO_PEER_WEB_URLS: 'http://127.0.0.1:8090', MESH_GEO_AUTO_FAILOVER_MS: '30000' })
        .geoAutoFailoverMs,
    ).toBe(30_000);
  });

  it('reads the log level (default info) and the service name of traces (default: from the role)', () => {
    expect(validateMeshEnvironment({})).toMatchObject({ logLevel: 'info', otelServiceName: undefined });
    expect(
      validateMeshEnvironment({
        LOG_LEVEL: 'debug',
        OTEL_SERVICE_NAME: 'mesh.eu-worker',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      }),
    ).toMatchObject({ logLevel: 'debug', otelServiceName: 'mesh.eu-worker', otlpEndpoint: 'http://collector:4318' });
    expect(() => validateMeshEnvironment({ LOG_LEVEL: 'verbose' })).toThrow(/LOG_LEVEL must be one of fatal, error/);
    expect(() => validateMeshEnvironment({ OTEL_SERVICE_NAME: 'my service' })).toThrow(/OTEL_SERVICE_NAME/);
    expect(() => validateMeshEnvironment({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
  });

  it('never shows the credentials of a URL setting in its error', () => {
    const env = {
      REDIS_URL: 'redis://mesh:redis-pass-1@cache:notaport',
      PULSAR_WEB_URL: 'ftp://admin:pulsar-pass-2@broker:8080',
      PULSAR_SERVICE_URL: 'tcp://pulsar-token-3@broker:6650',
      MESH_JWT_ISSUER: 'https://idp.example',
      MESH_JWT_JWKS_URL: 'ftp://idp.example/jwks?token=jwks-token-4',
    };
    expect(() => validateMeshEnvironment(env)).toThrow(MeshConfigError);
    const message = (() => {
      try {
        validateMeshEnvironment(env);
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    })();
    for (const setting of ['REDIS_URL', 'PULSAR_WEB_URL', 'PULSAR_SERVICE_URL', 'MESH_JWT_JWKS_URL'])
      expect(message).toContain(setting);
    for (const secret of ['redis-pass-1', 'pulsar-pass-2', 'pulsar-token-3', 'jwks-token-4'])
      expect(message).not.toContain(secret);
    expect(message).toMatch(/redis:\/\/(mesh:)?\*\*\*@cache:notaport/);
  });

  it('reads the rate limit (default generous, 0 off) and the JWT settings', () => {
    expect(validateMeshEnvironment({}).rateLimit).toEqual({ limit: 1_000, windowMs: 1_000 });
    expect(validateMeshEnvironment({}).jwt).toBeUndefined();
    expect(validateMeshEnvironment({ MESH_RATE_LIMIT: '0' }).rateLimit.limit).toBe(0);
    const config = validateMeshEnvironment({
      MESH_RATE_LIMIT: '20',
      MESH_RATE_LIMIT_WINDOW_MS: '1000',
      MESH_JWT_ISSUER: 'https://idp.example',
      MESH_JWT_JWKS_URL: 'http://127.0.0.1:9999/jwks.json',
      MESH_JWT_AUDIENCE: 'agent-mesh',
    });
    expect(config.rateLimit).toEqual({ limit: 20, windowMs: 1000 });
    expect(config.jwt).toEqual({
      issuer: 'https://idp.example',
      jwksUrl: 'http://127.0.0.1:9999/jwks.json',
      audience: 'agent-mesh',
    });
    // JWT alone protects the API, so the agent listens on every address as with keys
    expect(config.bind).toBe('0.0.0.0');
  });

  it('reads the LLM limits (none by default) and the journal TTL (default 7 days), naming a bad one', () => {
    expect(validateMeshEnvironment({}).llmGateway).toEqual({ journalTtlSeconds: 7 * 24 * 3600 });
    expect(
      validateMeshEnvironment({
        LLM_MAX_RPM: '60',
        LLM_MAX_TPM: '90000',
        LLM_MAX_CONCURRENCY: '4',
        LLM_JOURNAL_TTL_S: '3600',
      }).llmGateway,
    ).toEqual({ maxRpm: 60, maxTpm: 90_000, maxConcurrency: 4, journalTtlSeconds: 3600 });
    for (const [name, value] of [
      ['LLM_MAX_RPM', '0'],
      ['LLM_MAX_TPM', 'lots'],
      ['LLM_MAX_CONCURRENCY', '-1'],
      ['LLM_JOURNAL_TTL_S', '1.5'],
    ]) {
      expect(() => validateMeshEnvironment({ [name]: value })).toThrow(name);
    }
  });

  it('reports every bad setting at once', () => {
    try {
      validateMeshEnvironment({ MESH_TRANSPORT: 'kafka', PORT: 'x' });
      throw new Error('expected a MeshConfigError');
    } catch (error) {
      expect((error as MeshConfigError).problems).toHaveLength(2);
    }
  });
});

describe('start-up with a bad configuration', () => {
  it('stops before serving, with a message naming the setting', async () => {
    @Module({
      imports: [
        MeshRuntimeModule.forRoot({ role: 'worker', broker: new MemoryBroker(), env: { REDIS_URL: 'not-a-url' } }),
      ],
    })
    class BadModule {}
    await expect(bootstrapAgent(BadModule, { port: 0, logLevels: [] })).rejects.toThrow(
      /REDIS_URL must be a redis:\/\//,
    );
  });

  it('stops when Redis does not answer, naming the URL', async () => {
    @Module({
      imports: [
        MeshRuntimeModule.forRoot({
          role: 'worker',
          broker: new MemoryBroker(),
          env: { REDIS_URL: 'redis://127.0.0.1:6399' },
        }),
      ],
    })
    class NoRedisModule {}
    await expect(bootstrapAgent(NoRedisModule, { port: 0, logLevels: [] })).rejects.toThrow(
      /redis:\/\/127\.0\.0\.1:6399/,
    );
  });
});
