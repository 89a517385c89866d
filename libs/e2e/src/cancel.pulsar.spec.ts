import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import { qualifyTopic, Topics } from '@agent-mesh/contracts';
import { eventually, PulsarNamespace, RedisFixture, WorkflowClient } from '@agent-mesh/testing';
import { terminalEvents } from './support/pattern-scenarios';
import { SuiteAgents } from './support/suite-agents';

const WORKSPACE = join(__dirname, '../../..');

/** An OpenAI-compatible endpoint that never answers: records each request, and when its client hung up. */
class SilentLlm {
  readonly requests: { model: string; closed: boolean }[] = [];
  private readonly server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const entry = { model: String((JSON.parse(body) as { model?: string }).model), closed: false };
      this.requests.push(entry);
      response.on('close', () => (entry.closed = true)); // never answered: only the client's abort closes it
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describeWithPulsar('cancel reaches the skills running in worker processes (real Pulsar, Redis)', (env) => {
  const redis = new RedisFixture();
  const namespace = new PulsarNamespace(env, 'cancel');
  const llm = new SilentLlm();
  let client: WorkflowClient;
  let mesh: SuiteAgents;

  beforeAll(async () => {
    await assertPulsarAnswers(env);
    await redis.connect();
    for (const app of ['orchestrator', 'aggregator', 'worker'])
      execFileSync(process.execPath, ['tools/build-app.js', app], { cwd: WORKSPACE, stdio: 'pipe' });
    await namespace.create();
    const llmUrl = await llm.start();
    mesh = new SuiteAgents({
      pulsar: env,
      redisUrl: redis.url,
      workers: 2,
      env: { ...namespace.meshEnv(), REDIS_KEY_PREFIX: redis.keyPrefix, LLM_BASE_URL: llmUrl, LLM_MODEL: 'any' },
    });
    const orchestrator = await mesh.start('orchestrator-e2e');
    client = new WorkflowClient(orchestrator.url, { timeoutMs: 60_000 });
    await Promise.all([
      mesh.start('aggregator-e2e'),
      // Two workers; the second on the native client where pulsar-client loads (its reader is polled), else WebSocket too.
      mesh.start('worker-e2e-1', { env: { LLM_MODEL: 'model-ws' } }),
      mesh.start('worker-e2e-2', { env: { LLM_MODEL: 'model-native', PULSAR_SERVICE_URL: env.serviceUrl } }),
    ]);
  }, 180_000);

  afterAll(async () => {
    await mesh?.stopAll();
    await llm.close();
    await namespace.delete();
    await redis.cleanup();
  }, 120_000);

  it('aborts the LLM calls under way on both workers, skips the queued tasks, ends the workflow once', async () => {
    const inputs = Array.from({ length: 10 }, (_, i) => ({ id: `doc-${i}`, text: `text number ${i}` }));
    const id = await client.submit({ skill: 'llm', inputs, params: { instruction: 'summarize' } });
    // Each worker runs four tasks at a time: eight calls reach the endpoint, two tasks wait.
    await eventually(
      'eight LLM calls under way, from both workers',
      async () => {
        const models = new Set(llm.requests.map((r) => r.model));
        return llm.requests.length === 8 && models.has('model-ws') && models.has('model-native') ? true : undefined;
      },
      60_000,
    );
    expect(llm.requests.some((r) => r.closed)).toBe(false);

    expect((await client.cancel(id, 'no longer needed')).status).toBe(202);
    const workflow = await client.finished(id);
    expect(workflow.status).toBe('cancelled');
    expect(terminalEvents(workflow)).toEqual(['workflow.cancelled']);

    // The skills' signals reached fetch: every call was hung up by its worker (the endpoint never answers).
    await eventually('every LLM call aborted', async () => (llm.requests.every((r) => r.closed) ? true : undefined));
    // Every task acked, the queued ones skipped: no call beyond the eight.
    const tasks = qualifyTopic(namespace.naming, Topics.tasks('llm'));
    await eventually(
      'every task acked',
      async () => ((await namespace.admin.backlog(tasks, 'workers')) === 0 ? true : undefined),
      30_000,
    );
    expect(llm.requests).toHaveLength(8);
    expect(mesh.started.every((a) => a.pid !== undefined)).toBe(true);
  }, 120_000);
});
