import { Module, type INestApplication } from '@nestjs/common';
import { DeadLetterProperties, MemoryBroker, type BusMessage, type EventBus } from '@agent-mesh/bus';
import {
  createMeshEventRegistry,
  envelopeProperties,
  qualifyTopic,
  TaskCompletedV1,
  Topics,
  WorkflowCompletedV1,
  WorkflowRequestedV1,
  type EventEnvelope,
  type EventRegistry,
  type FanOutWorkflowRequest,
  type TaskAssigned,
  type TopicNaming,
  type WorkflowStarted,
} from '@agent-mesh/contracts';
import { bootstrapAgent, MeshRuntimeModule } from '@agent-mesh/runtime';
import { MemoryStateStore } from '@agent-mesh/state';
import { OrchestratorModule } from './orchestrator.module';
import { OrchestratorService } from './orchestrator.service';
import type { WorkflowView } from './workflow-store';

const naming: TopicNaming = { tenant: 'agentmesh', namespace: 'mesh' };
const INSTANCE = 'orch-1';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
const origin = { source: 'test-client@t', region: 'test' };

const request: FanOutWorkflowRequest = {
  skill: 'keywords',
  inputs: [
    { id: 'tides', text: 'The tide rose quickly. Fishermen hauled their boats above the tide line.' },
    { id: 'orchard', text: 'Apple trees need pruning in winter. Pruned trees give larger apples.' },
    { id: 'library', text: 'The new library opened downtown. Readers praised the quiet rooms.' },
  ],
  params: { top: 4 },
};

async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('OrchestratorModule on a memory bus', () => {
  let broker: MemoryBroker;
  let client: EventBus;
  let state: MemoryStateStore;
  let app: INestApplication;
  let url: string;
  let registry: EventRegistry;

  async function readAll(shortTopic: string): Promise<BusMessage[]> {
    const reader = await client.createReader({ topic: qualifyTopic(naming, shortTopic), startMessageId: 'earliest' });
    const messages: BusMessage[] = [];
    while (await reader.hasMessageAvailable()) {
      const message = await reader.readNext(100);
      if (message) messages.push(message);
    }
    await reader.close();
    return messages;
  }

  /** Decoded events of one type on a topic, in publish order. */
  async function events<T>(shortTopic: string, type: string, correlationId?: string): Promise<{ envelope: EventEnvelope<T>; message: BusMessage }[]> {
    const out: { envelope: EventEnvelope<T>; message: BusMessage }[] = [];
    for (const message of await readAll(shortTopic)) {
      const decoded = registry.decode(message.payload);
      if (!decoded.ok) throw new Error(`undecodable event on ${shortTopic}: ${decoded.reason}`);
      if (decoded.envelope.type !== type) continue;
      if (correlationId !== undefined && decoded.envelope.correlationId !== correlationId) continue;
      out.push({ envelope: decoded.envelope as EventEnvelope<T>, message });
    }
    return out;
  }

  async function publish(shortTopic: string, envelope: EventEnvelope<object>): Promise<Buffer> {
    const payload = registry.encode(envelope);
    await client.publish(qualifyTopic(naming, shortTopic), { payload, key: envelope.correlationId, properties: envelopeProperties(envelope) });
    return payload;
  }

  /** Waits until the orchestrator has settled every message of a topic. */
  function settled(shortTopic: string): Promise<true> {
    return eventually(`orchestrator to settle ${shortTopic}`, async () =>
      broker.backlog(qualifyTopic(naming, shortTopic), 'orchestrator') === 0 ? true : undefined,
    );
  }

  async function getWorkflow(id: string): Promise<{ status: number; body: WorkflowView }> {
    const response = await fetch(`${url}/workflows/${id}`);
    return { status: response.status, body: (await response.json()) as WorkflowView };
  }

  beforeEach(async () => {
    broker = new MemoryBroker();
    client = broker.connect();
    state = new MemoryStateStore();
    registry = createMeshEventRegistry();
    @Module({
      imports: [
        MeshRuntimeModule.forRoot({
          role: 'orchestrator',
          broker,
          stateStore: state,
          env: { MESH_TRANSPORT: 'memory', MESH_INSTANCE_ID: INSTANCE, MESH_REGION: 'test', REDIS_URL: '' },
        }),
        OrchestratorModule,
      ],
    })
    class AppModule {}
    app = await bootstrapAgent(AppModule, { port: 0, logLevels: ['error'] });
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });

  afterEach(async () => {
    await app.close();
    await client.close();
    broker.shutdown();
  });

  it('POST /workflows answers 202 and puts a workflow.requested on workflow.events', async () => {
    const response = await fetch(`${url}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });
    expect(response.status).toBe(202);
    const body = (await response.json()) as { workflowId: string; status: string };
    expect(body.status).toBe('accepted');
    expect(typeof body.workflowId).toBe('string');

    const requested = await events<FanOutWorkflowRequest>(Topics.workflowEvents, WorkflowRequestedV1.type, body.workflowId);
    expect(requested).toHaveLength(1);
    const [{ envelope, message }] = requested;
    expect(JSON.parse(JSON.stringify(envelope.data))).toEqual(request);
    expect(envelope.source).toBe(`orchestrator@${INSTANCE}`);
    expect(envelope.region).toBe('test');
    expect(message.key).toBe(body.workflowId);

    // The orchestrator consumes its own request and fans it out.
    const tasks = await eventually('the fan-out', async () => {
      const found = await events<TaskAssigned>(Topics.tasks(request.skill), 'task.assigned', body.workflowId);
      return found.length >= request.inputs.length ? found : undefined;
    });
    expect(tasks.map((t) => t.envelope.data.taskId).sort()).toEqual(request.inputs.map((_, i) => `${body.workflowId}:${i}`).sort());
    const view = await eventually('the workflow to be running', async () => {
      const { body: wf } = await getWorkflow(body.workflowId);
      return wf.status === 'running' ? wf : undefined;
    });
    expect(view.branches).toEqual(request.inputs.map((input, index) => ({ index, inputId: input.id, status: 'pending' })));
    expect(view.skill).toBe(request.skill);
    expect(view.branchCount).toBe(request.inputs.length);
  });

  it('answers 400 naming the bad field, and 404 for an unknown workflow', async () => {
    const cases: [unknown, string][] = [
      [{ ...request, inputs: [{ id: 'a', text: '' }] }, 'inputs.0.text'],
      [{ ...request, priority: 'high' }, 'priority'],
      [{ ...request, skill: 'no-such-skill' }, 'skill'],
    ];
    for (const [payload, field] of cases) {
      const response = await fetch(`${url}/workflows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
      });
      expect(response.status).toBe(400);
      const json = (await response.json()) as { errors: { field: string }[] };
      expect(json.errors.map((e) => e.field)).toContain(field);
    }
    expect((await events(Topics.workflowEvents, WorkflowRequestedV1.type)).length).toBe(0);
    expect((await getWorkflow('0190b2a4-7d3c-7abc-8def-0123456789ab')).status).toBe(404);
  });

  it('fans a workflow.requested out into one task.assigned per input, then workflow.started, once per redelivery', async () => {
    const onRequested = jest.spyOn(app.get(OrchestratorService), 'onRequested');
    const workflowId = 'wf-fan-out-1';
    const requested = registry.create(WorkflowRequestedV1, request, origin, { correlationId: workflowId, traceparent: TRACEPARENT });
    const bytes = await publish(Topics.workflowEvents, requested);

    const tasks = await eventually('the tasks', async () => {
      const found = await events<TaskAssigned>(Topics.tasks(request.skill), 'task.assigned', workflowId);
      return found.length >= request.inputs.length ? found : undefined;
    });
    const started = await eventually('workflow.started', async () => {
      const found = await events<WorkflowStarted>(Topics.workflowEvents, 'workflow.started', workflowId);
      return found.length > 0 ? found : undefined;
    });

    const byIndex = [...tasks].sort((a, b) => a.envelope.data.branchIndex - b.envelope.data.branchIndex);
    expect(byIndex.map((t) => t.envelope.data)).toEqual(
      request.inputs.map((input, i) => ({
        taskId: `${workflowId}:${i}`,
        branchIndex: i,
        branchCount: request.inputs.length,
        skill: request.skill,
        input,
        params: request.params,
      })),
    );
    for (const { envelope, message } of tasks) {
      expect(envelope.correlationId).toBe(workflowId);
      expect(envelope.causationId).toBe(requested.id);
      expect(envelope.source).toBe(`orchestrator@${INSTANCE}`);
      expect(envelope.traceparent?.split('-')[1]).toBe(TRACE_ID);
      expect(envelope.traceparent).not.toBe(TRACEPARENT);
      expect(message.key).toBe(workflowId);
    }
    expect(started).toHaveLength(1);
    expect(started[0].envelope.data).toEqual({ skill: request.skill, branchCount: request.inputs.length });
    expect(started[0].envelope.causationId).toBe(requested.id);
    expect(started[0].envelope.traceparent?.split('-')[1]).toBe(TRACE_ID);

    // Workflow.started comes after every task (it says the fan-out is done).
    const startedAt = Math.max(...tasks.map((t) => t.message.publishTime));
    expect(started[0].message.publishTime).toBeGreaterThanOrEqual(startedAt);

    // The broker delivers the very same message again (redelivery after a lost ack).
    await client.publish(qualifyTopic(naming, Topics.workflowEvents), {
      payload: bytes,
      key: workflowId,
      properties: envelopeProperties(requested),
    });
    await eventually('the redelivery to reach the handler', async () => (onRequested.mock.calls.length >= 2 ? true : undefined));
    await settled(Topics.workflowEvents);
    expect(onRequested.mock.calls.map(([event]) => event.id)).toEqual([requested.id, requested.id]);

    expect(await events(Topics.tasks(request.skill), 'task.assigned', workflowId)).toHaveLength(request.inputs.length);
    expect(await events(Topics.workflowEvents, 'workflow.started', workflowId)).toHaveLength(1);
    expect(await readAll(Topics.deadLetter)).toEqual([]);
  });

  it('keeps separate workflows apart', async () => {
    const one = registry.create(WorkflowRequestedV1, { skill: 'sentiment', inputs: [request.inputs[0]] }, origin, { correlationId: 'wf-a' });
    const two = registry.create(WorkflowRequestedV1, request, origin, { correlationId: 'wf-b' });
    await publish(Topics.workflowEvents, one);
    await publish(Topics.workflowEvents, two);
    await eventually('both fan-outs', async () => {
      const started = await events(Topics.workflowEvents, 'workflow.started');
      return started.length >= 2 ? true : undefined;
    });
    expect((await events<TaskAssigned>(Topics.tasks('sentiment'), 'task.assigned')).map((t) => t.envelope.data.taskId)).toEqual(['wf-a:0']);
    expect((await events<TaskAssigned>(Topics.tasks('keywords'), 'task.assigned')).map((t) => t.envelope.data.taskId).sort()).toEqual(
      ['wf-b:0', 'wf-b:1', 'wf-b:2'],
    );
  });

  it('projects branch results and the outcome for GET /workflows/:id, and never re-dispatches a finished workflow', async () => {
    const workflowId = 'wf-projection-1';
    const requested = registry.create(WorkflowRequestedV1, request, origin, { correlationId: workflowId });
    const bytes = await publish(Topics.workflowEvents, requested);
    await eventually('workflow.started', async () =>
      (await events(Topics.workflowEvents, 'workflow.started', workflowId)).length > 0 ? true : undefined,
    );

    const outputs = request.inputs.map((input, i) => ({ inputId: input.id, output: { index: i, length: input.text.length } }));
    for (const [i, input] of request.inputs.entries()) {
      await publish(
        Topics.taskResults,
        registry.create(
          TaskCompletedV1,
          {
            taskId: `${workflowId}:${i}`,
            branchIndex: i,
            branchCount: request.inputs.length,
            skill: request.skill,
            inputId: input.id,
            output: outputs[i].output,
            durationMs: 10 + i,
            worker: `worker@w-${i}`,
          },
          origin,
          { correlationId: workflowId },
        ),
      );
    }
    const result = { merged: outputs.map((o) => o.inputId) };
    const completed = registry.create(
      WorkflowCompletedV1,
      { skill: request.skill, branchCount: request.inputs.length, succeeded: request.inputs.length, failed: 0, result },
      origin,
      { correlationId: workflowId },
    );
    await publish(Topics.workflowEvents, completed);

    const view = await eventually('the completed projection', async () => {
      const { body } = await getWorkflow(workflowId);
      return body.status === 'completed' && body.branches.every((b) => b.status === 'completed') ? body : undefined;
    });
    expect(view.result).toEqual(result);
    expect(view.finishedAt).toBe(completed.occurredAt);
    expect(view.branches).toEqual(
      request.inputs.map((input, i) => ({
        index: i,
        inputId: input.id,
        status: 'completed',
        worker: `worker@w-${i}`,
        durationMs: 10 + i,
        output: outputs[i].output,
      })),
    );

    // The request replayed after the end changes nothing and publishes nothing.
    await client.publish(qualifyTopic(naming, Topics.workflowEvents), { payload: bytes, key: workflowId });
    await settled(Topics.workflowEvents);
    expect(await events(Topics.tasks(request.skill), 'task.assigned', workflowId)).toHaveLength(request.inputs.length);
    expect((await getWorkflow(workflowId)).body.status).toBe('completed');
  });

  it('dead-letters a workflow.requested whose body is invalid, with the reason', async () => {
    const raw = {
      id: '0190b2a4-7d3c-7abc-8def-0123456789ab',
      type: 'workflow.requested',
      version: 1,
      correlationId: 'wf-bad',
      source: 'test',
      region: 'test',
      occurredAt: new Date().toISOString(),
      data: { skill: 'keywords', inputs: [{ id: 'a', text: '' }] },
    };
    await client.publish(qualifyTopic(naming, Topics.workflowEvents), { payload: JSON.stringify(raw), key: 'wf-bad' });
    const letters = await eventually('a dead letter', async () => {
      const found = await readAll(Topics.deadLetter);
      return found.length > 0 ? found : undefined;
    });
    expect(letters).toHaveLength(1);
    expect(letters[0].properties[DeadLetterProperties.reason]).toMatch(/^invalid-data:.*inputs\.0\.text/);
    expect(await readAll(Topics.tasks('keywords'))).toEqual([]);
  });
});
