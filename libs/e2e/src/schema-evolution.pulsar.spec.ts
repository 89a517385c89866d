import { PulsarWsEventBus, type BusMessage } from '@agent-mesh/bus';
import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import { qualifyTopic, Topics, uuidv7, WorkflowRequestedV1, type EventEnvelope } from '@agent-mesh/contracts';
import { createDefaultSkillRegistry } from '@agent-mesh/skills';
import {
  type AgentProcess,
  type AgentRole,
  eventually,
  InProcessMesh,
  PulsarNamespace,
  RedisFixture,
  startAgent,
  WorkflowClient,
} from '@agent-mesh/testing';

/*
 * A rolling upgrade caught half-way, on the real broker (pulsar-ws) in a namespace with the
 * contracts' schemas registered as the bootstrap registers them: a newer producer sends a
 * `workflow.requested` v1 carrying fields this mesh's version does not know — in the envelope,
 * in the body and in each document. The orchestrator (v1) runs the workflow, and the documents
 * it passes on to the workers in `task.assigned` keep their unknown field untouched.
 */
describeWithPulsar('schema evolution on a real Pulsar broker (pulsar-ws)', (env) => {
  const namespace = new PulsarNamespace(env, 'evolution');
  const redis = new RedisFixture();
  const mesh = new InProcessMesh();
  let observer: PulsarWsEventBus;
  let client: WorkflowClient;

  const start = async (role: AgentRole, stateful: boolean): Promise<AgentProcess> =>
    startAgent(mesh, {
      role,
      skills: createDefaultSkillRegistry(),
      stateStore: stateful ? await redis.connect() : undefined,
      env: { ...namespace.meshEnv(), PULSAR_SERVICE_URL: '' },
    });

  async function readAll(shortTopic: string): Promise<BusMessage[]> {
    const reader = await observer.createReader({
      topic: qualifyTopic(namespace.naming, shortTopic),
      startMessageId: 'earliest',
    });
    const messages: BusMessage[] = [];
    try {
      while (await reader.hasMessageAvailable()) {
        const message = await reader.readNext(2000);
        if (message) messages.push(message);
      }
    } finally {
      await reader.close();
    }
    return messages;
  }

  beforeAll(async () => {
    await assertPulsarAnswers(env);
    await namespace.create(); // registers the schemas, as the bootstrap does
    observer = new PulsarWsEventBus({ webUrl: env.webUrl });
    const orchestrator = await start('orchestrator', true);
    client = new WorkflowClient(orchestrator.url, { timeoutMs: 30_000 });
    await start('aggregator', true);
    await start('worker', false);
  }, 60_000);

  afterAll(async () => {
    await mesh.stopAll();
    await observer?.close();
    await namespace.delete();
    await redis.cleanup();
  }, 60_000);

  it('runs a newer producer’s v1 event with unknown fields, and passes the documents’ fields on to the workers', async () => {
    expect(await namespace.admin.getSchema(qualifyTopic(namespace.naming, Topics.workflowEvents))).toMatchObject({
      type: 'JSON',
    });
    const workflowId = uuidv7();
    const documents = [
      { id: 'doc-1', text: 'Pulsar keeps the log; Redis keeps the state.', lang: 'en' },
      { id: 'doc-2', text: 'Schemas evolve; consumers upgrade first.', lang: 'en' },
    ];
    const newer = {
      id: uuidv7(),
      type: WorkflowRequestedV1.type,
      version: WorkflowRequestedV1.version,
      correlationId: workflowId,
      source: 'submitter@newer',
      region: 'test',
      occurredAt: new Date().toISOString(),
      tenantTag: 'a header field of a newer version',
      data: { skill: 'keywords', inputs: documents, params: { top: 2 }, priority: 'high' },
    };
    // The way a producer of the newer version publishes it (no schema of its own).
    await observer.publish(qualifyTopic(namespace.naming, Topics.workflowEvents), {
      payload: JSON.stringify(newer),
      key: workflowId,
    });

    const workflow = await eventually(
      `workflow ${workflowId} to complete`,
      async () => {
        const answer = await client.request<{ status: string }>('GET', `/workflows/${workflowId}`);
        return answer.status === 200 && answer.json.status === 'completed' ? answer.json : undefined;
      },
      30_000,
    );
    expect(workflow.status).toBe('completed');

    const assigned = (await readAll(Topics.tasks('keywords')))
      .map((m) => JSON.parse(m.payload.toString()) as EventEnvelope<{ input: Record<string, unknown> }>)
      .filter((e) => e.correlationId === workflowId)
      .map((e) => e.data.input)
      .sort((a, b) => String(a['id']).localeCompare(String(b['id'])));
    expect(assigned).toEqual(documents);
    expect(await readAll(Topics.deadLetter)).toEqual([]);
  });
});
