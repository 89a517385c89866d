import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import { OtlpReceiver, PulsarNamespace, RedisFixture, WorkflowClient, type ReceivedSpan } from '@agent-mesh/testing';
import { SuiteAgents } from './support/suite-agents';
import { named, parentOf, SpanKinds, spanCounts, submitTraced, workflowTrace } from './support/traces';

const WORKSPACE = join(__dirname, '../../..');
const ROLES = ['orchestrator', 'aggregator', 'worker', 'saga-coordinator'] as const;

const doc = (id: string, text: string) => ({ id, text });
const TEXT =
  'Solar panels on the school roof now cover most of the daytime power. The river flooded the lower fields ' +
  'twice this spring. Volunteers repaired the old footbridge, and the village celebrated with a fair.';

/** Every handler of a task runs on a worker, child of a publish made by another process. */
function expectTasksCrossedProcesses(spans: readonly ReceivedSpan[], skills: readonly string[]): void {
  const runs = spans.filter((span) => span.name.startsWith('skill '));
  expect(runs.map((span) => span.name).sort()).toEqual(skills.map((skill) => `skill ${skill}`).sort());
  for (const run of runs) {
    expect(run.service).toBe('agent-mesh-worker');
    const handler = parentOf(spans, run)!;
    expect([handler.name, handler.kind, handler.service]).toEqual([
      'process task.assigned',
      SpanKinds.consumer,
      'agent-mesh-worker',
    ]);
    const publish = parentOf(spans, handler)!;
    expect([publish.name, publish.kind]).toEqual(['publish task.assigned', SpanKinds.producer]);
    expect(publish.service).not.toBe('agent-mesh-worker');
  }
  // Each result is published by the worker's handler and taken by a handler in another process.
  for (const result of named(spans, 'publish task.completed'))
    expect(parentOf(spans, result)).toMatchObject({ name: 'process task.assigned', service: 'agent-mesh-worker' });
  for (const handled of named(spans, 'process task.completed')) {
    expect(parentOf(spans, handled)?.name).toBe('publish task.completed');
    expect(handled.service).not.toBe('agent-mesh-worker');
  }
}

/*
 * One trace per workflow across agent processes: each role its own OS process on the real broker,
 * exporting spans over OTLP/HTTP to a receiver started here. A fan-out, a chain and a saga each
 * yield one connected trace rooted at the HTTP submit, spanning the roles that took part.
 */
describeWithPulsar('one trace per workflow across agent processes (real Pulsar, Redis, OTLP/HTTP)', (env) => {
  const redis = new RedisFixture();
  const namespace = new PulsarNamespace(env, 'tracing');
  const receiver = new OtlpReceiver();
  const meshes: SuiteAgents[] = [];
  let orchestratorUrl = '';
  let endpoint = '';

  /** Agents of the launcher's plan exporting to the receiver, with `settings` of their own; all stopped after the suite. */
  const suiteAgents = (settings: Record<string, string>): SuiteAgents => {
    const mesh = new SuiteAgents({
      pulsar: env,
      redisUrl: redis.url,
      env: {
        ...namespace.meshEnv(),
        REDIS_KEY_PREFIX: redis.keyPrefix,
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        ...settings,
      },
    });
    meshes.push(mesh);
    return mesh;
  };

  beforeAll(async () => {
    await assertPulsarAnswers(env);
    await redis.connect();
    for (const app of ROLES)
      execFileSync(process.execPath, ['tools/build-app.js', app], { cwd: WORKSPACE, stdio: 'pipe' });
    await namespace.create();
    endpoint = await receiver.start();
    const mesh = suiteAgents({ OTEL_BSP_SCHEDULE_DELAY: '200' });
    orchestratorUrl = (await mesh.start('orchestrator-e2e')).url;
    await Promise.all(ROLES.slice(1).map((role) => mesh.start(`${role}-e2e`)));
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(meshes.map((mesh) => mesh.stopAll()));
    await receiver.close();
    await namespace.delete();
    await redis.cleanup();
  }, 120_000);

  /** Submits, waits for the end, and returns the workflow's trace once its last publish arrived. */
  const run = async (
    body: unknown,
    skills: Record<string, number>,
    expectedStatus = 'completed',
  ): Promise<ReceivedSpan[]> => {
    const { workflowId, traceId } = await submitTraced(orchestratorUrl, body);
    const workflow = await new WorkflowClient(orchestratorUrl, { timeoutMs: 60_000 }).finished(workflowId);
    expect(workflow.status).toBe(expectedStatus);
    return workflowTrace(receiver, workflowId, traceId, { ...skills, [`publish workflow.${expectedStatus}`]: 1 });
  };

  it('a fan-out: orchestrator, workers and aggregator in one trace', async () => {
    const spans = await run(
      { skill: 'keywords', inputs: [doc('a', TEXT), doc('b', 'Buses every fifteen minutes.')] },
      { 'skill keywords': 2, 'publish fanout.completed': 1 },
    );
    expectTasksCrossedProcesses(spans, ['keywords', 'keywords']);
    expect(spanCounts(spans)).toMatchObject({ 'POST /workflows': 1, 'publish workflow.submitted': 1 });
    // The aggregator joined the branches and said so: its publish, child of its handler of a result.
    const joined = named(spans, 'publish fanout.completed');
    expect(joined).toHaveLength(1);
    expect(parentOf(spans, joined[0])).toMatchObject({
      name: 'process task.completed',
      service: 'agent-mesh-aggregator',
    });
    expect(new Set(spans.map((span) => span.service))).toEqual(
      new Set(['agent-mesh-orchestrator', 'agent-mesh-worker', 'agent-mesh-aggregator']),
    );
  }, 120_000);

  it('a chain: stage 2 is assigned by the orchestrator handling stage 1’s result, in the same trace', async () => {
    const spans = await run(
      {
        step: {
          kind: 'chain',
          stages: [
            { step: { kind: 'task', skill: 'summarize', input: doc('c', TEXT) } },
            { step: { kind: 'task', skill: 'keywords', inputFrom: { source: 'previous', field: 'summary' } } },
          ],
        },
      },
      { 'skill summarize': 1, 'skill keywords': 1 },
    );
    expectTasksCrossedProcesses(spans, ['summarize', 'keywords']);
    const second = named(spans, 'skill keywords')[0];
    const assigned = parentOf(spans, parentOf(spans, second)!)!;
    expect(parentOf(spans, assigned)).toMatchObject({
      name: 'process task.completed',
      service: 'agent-mesh-orchestrator',
    });
  }, 120_000);

  it('a saga: the coordinator runs the steps as tasks, all in the workflow’s trace', async () => {
    const step = (name: string) => ({
      name,
      action: { skill: 'keywords', input: doc(`${name}-do`, TEXT) },
      compensation: { skill: 'sentiment', input: doc(`${name}-undo`, 'undo') },
      deadlineMs: 30_000,
    });
    const spans = await run(
      { step: { kind: 'saga', steps: [step('reserve'), step('charge')] } },
      { 'skill keywords': 2 },
    );
    expectTasksCrossedProcesses(spans, ['keywords', 'keywords']);
    for (const assigned of named(spans, 'publish task.assigned'))
      expect(assigned.service).toBe('agent-mesh-saga-coordinator');
    expect(new Set(spans.map((span) => span.service))).toEqual(
      new Set(['agent-mesh-orchestrator', 'agent-mesh-worker', 'agent-mesh-saga-coordinator']),
    );
  }, 120_000);

  it('sends the spans still buffered when an agent stops on SIGTERM', async () => {
    // Its batches would wait ten minutes: only the flush on shutdown can send its span.
    // A second orchestrator, a one-process mesh of its own on the same namespace.
    // No heartbeats or broker stats of its own: their publishes would be buffered spans too.
    const probe = await suiteAgents({
      OTEL_BSP_SCHEDULE_DELAY: '600000',
      OTEL_SERVICE_NAME: 'flush-probe',
      MESH_HEARTBEAT_MS: '0',
      MESH_STATS_MS: '0',
    }).start('orchestrator-e2e', { env: { MESH_INSTANCE_ID: 'orchestrator-probe' } });
    expect((await fetch(`${probe.url}/workflows?limit=1`)).status).toBe(200);
    expect(receiver.spans.filter((span) => span.service === 'flush-probe')).toEqual([]);
    expect(await probe.stop()).toBe(0);
    expect(receiver.spans.filter((span) => span.service === 'flush-probe').map((span) => span.name)).toEqual([
      'GET /workflows',
    ]);
  }, 90_000);
});
