import { Module, type INestApplication } from '@nestjs/common';
import { OrchestratorModule } from '@agent-mesh/agents/orchestrator';
import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import { TaskTokenV1, Topics } from '@agent-mesh/contracts';
import { MeshPublisher } from '@agent-mesh/nest-pulsar';
import { bootstrapAgent, MeshRuntimeModule } from '@agent-mesh/runtime';
import { eventually, PulsarNamespace, RedisFixture, WorkflowClient } from '@agent-mesh/testing';

/*
 * GET /workflows/:id/stream on a real broker: the orchestrator reads workflow.stream.<id> with a
 * Pulsar Reader from its start — pieces published before the client came and while it watches —
 * and ends the stream when the workflow ends (here: cancelled; no worker serves its skill).
 */
describeWithPulsar('GET /workflows/:id/stream on a real broker (Pulsar, Redis)', (env) => {
  const redis = new RedisFixture();
  const namespace = new PulsarNamespace(env, 'stream');
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    await assertPulsarAnswers(env);
    await redis.connect();
    await namespace.create();
    @Module({
      imports: [
        MeshRuntimeModule.forRoot({
          role: 'orchestrator',
          env: {
            ...namespace.meshEnv(),
            MESH_INSTANCE_ID: 'orchestrator-stream',
            MESH_REGION: 'test',
            REDIS_URL: redis.url,
            REDIS_KEY_PREFIX: redis.keyPrefix,
          },
        }),
        OrchestratorModule,
      ],
    })
    class OrchestratorApp {}
    app = await bootstrapAgent(OrchestratorApp, { port: 0, logLevels: ['error'] });
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await namespace.delete();
    await redis.cleanup();
  }, 60_000);

  it('relays the pieces published before and after the client came, and ends with the workflow', async () => {
    const client = new WorkflowClient(url);
    // Nobody serves the task: the workflow runs until it is cancelled.
    const workflowId = await client.submit({ skill: 'keywords', inputs: [{ id: 'd1', text: 'streams on pulsar' }] });
    const publisher = app.get(MeshPublisher).as('worker');
    const token = (seq: number, text: string) =>
      publisher.publish(
        Topics.workflowStream(workflowId),
        TaskTokenV1,
        { taskId: `${workflowId}:root:task:d1`, stepPath: 'root', seq, text },
        { correlationId: workflowId },
      );
    await token(0, 'before');

    const response = await fetch(`${url}/workflows/${workflowId}/stream`);
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let received = '';
    const readUntil = (what: string) =>
      eventually(
        what,
        async () => {
          const { value, done } = await reader.read();
          if (value) received += decoder.decode(value, { stream: true });
          return received.includes(what) || done ? true : undefined;
        },
        30_000,
      );
    await readUntil('"text":"before"');
    await token(1, ' and after');
    await readUntil('"text":" and after"');
    await client.request('POST', `/workflows/${workflowId}/cancel`, { reason: 'test over' });
    await readUntil('event: end');
    expect(received).toContain('"status":"cancelled"');
    const pieces = received
      .split('\n')
      .filter((line) => line.startsWith('data: {"taskId"'))
      .map((line) => (JSON.parse(line.slice(6)) as { seq: number }).seq);
    expect(pieces).toEqual([0, 1]);
  }, 90_000);
});
