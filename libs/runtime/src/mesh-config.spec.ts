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
      llm: { baseUrl: 'http://127.0.0.1:11434/v1', model: 'tiny' },
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
    [{ WORKFLOW_DEADLINE_MS: '0' }, 'WORKFLOW_DEADLINE_MS'],
    [{ WORKFLOW_DEADLINE_MS: 'an hour' }, 'WORKFLOW_DEADLINE_MS'],
    [{ WORKFLOW_DEADLINE_MS: '1.5' }, 'WORKFLOW_DEADLINE_MS'],
    [{ WORKFLOW_DEADLINE_MS: String(8 * 86_400_000) }, 'WORKFLOW_DEADLINE_MS'],
    [{ MESH_BODY_LIMIT: '5 MB' }, 'MESH_BODY_LIMIT'],
    [{ WORKFLOW_RETENTION_MS: '0' }, 'WORKFLOW_RETENTION_MS'],
  ])('rejects %j naming %s', (env, setting) => {
    expect(() => validateMeshEnvironment(env)).toThrow(MeshConfigError);
    expect(() => validateMeshEnvironment(env)).toThrow(setting);
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
