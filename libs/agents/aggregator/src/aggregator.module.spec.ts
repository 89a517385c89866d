import { Module, type INestApplication } from '@nestjs/common';
import { MemoryBroker, type BusMessage, type EventBus } from '@agent-mesh/bus';
import {
  createMeshEventRegistry,
  envelopeProperties,
  qualifyTopic,
  TaskCompletedV1,
  TaskFailedV1,
  Topics,
  type EventEnvelope,
  type EventRegistry,
  type TaskCompleted,
  type TaskFailed,
  type TopicNaming,
  type WorkflowCompleted,
  type WorkflowFailed,
} from '@agent-mesh/contracts';
import { bootstrapAgent, MeshRuntimeModule } from '@agent-mesh/runtime';
import { createDefaultSkillRegistry, type SkillOutput } from '@agent-mesh/skills';
import { MemoryStateStore } from '@agent-mesh/state';
import { AggregatorModule } from './aggregator.module';

const naming: TopicNaming = { tenant: 'agentmesh', namespace: 'mesh' };
const origin = { source: 'worker@test', region: 'test' };
const TRACE_ID = '5bf92f3577b34da6a3ce929d0e0e4736';

const documents = [
  { id: 'tides', text: 'The tide rose quickly. Fishermen hauled their boats above the tide line before the storm tide.' },
  { id: 'orchard', text: 'Apple trees need pruning in winter. Pruned apple trees give larger apples and healthier branches.' },
  { id: 'library', text: 'The new library opened downtown. Readers praised the quiet library rooms and the friendly staff.' },
];

async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function keywordsOutputs(): Promise<{ inputId: string; output: SkillOutput }[]> {
  const skill = createDefaultSkillRegistry().require('keywords');
  const signal = new AbortController().signal;
  return Promise.all(
    documents.map(async (d) => ({ inputId: d.id, output: await skill.run({ id: d.id, text: d.text, params: { top: 4 } }, { signal }) })),
  );
}

describe('AggregatorModule on a memory bus', () => {
  let broker: MemoryBroker;
  let client: EventBus;
  let state: MemoryStateStore;
  let app: INestApplication;
  let registry: EventRegistry;

  beforeEach(async () => {
    broker = new MemoryBroker();
    client = broker.connect();
    state = new MemoryStateStore();
    registry = createMeshEventRegistry();
    @Module({
      imports: [
        MeshRuntimeModule.forRoot({
          role: 'aggregator',
          broker,
          stateStore: state,
          env: { MESH_TRANSPORT: 'memory', MESH_INSTANCE_ID: 'agg-1', MESH_REGION: 'test', REDIS_URL: '' },
        }),
        AggregatorModule,
      ],
    })
    class AppModule {}
    app = await bootstrapAgent(AppModule, { port: 0, logLevels: ['error'] });
  });

  afterEach(async () => {
    await app.close();
    await client.close();
    broker.shutdown();
  });

  async function readAll(shortTopic: string): Promise<BusMessage[]> {
    const reader = await client.createReader({ topic: qualifyTopic(naming, shortTopic), startMessageId: 'earliest' });
    const out: BusMessage[] = [];
    while (await reader.hasMessageAvailable()) {
      const message = await reader.readNext(100);
      if (message) out.push(message);
    }
    await reader.close();
    return out;
  }

  async function outcomes(workflowId: string): Promise<EventEnvelope<WorkflowCompleted | WorkflowFailed>[]> {
    const out: EventEnvelope<WorkflowCompleted | WorkflowFailed>[] = [];
    for (const message of await readAll(Topics.workflowEvents)) {
      const decoded = registry.decode(message.payload);
      if (!decoded.ok) throw new Error(`undecodable: ${decoded.reason}`);
      if (decoded.envelope.correlationId === workflowId) out.push(decoded.envelope as EventEnvelope<WorkflowCompleted | WorkflowFailed>);
    }
    return out;
  }

  async function publishResult(envelope: EventEnvelope<TaskCompleted | TaskFailed>): Promise<void> {
    await client.publish(qualifyTopic(naming, Topics.taskResults), {
      payload: registry.encode(envelope),
      key: envelope.correlationId,
      properties: envelopeProperties(envelope),
    });
  }

  function completed(workflowId: string, index: number, output: SkillOutput, worker = 'worker@w-1'): EventEnvelope<TaskCompleted> {
    return registry.create(
      TaskCompletedV1,
      {
        taskId: `${workflowId}:${index}`,
        branchIndex: index,
        branchCount: documents.length,
        skill: 'keywords',
        inputId: documents[index].id,
        output,
        durationMs: 5,
        worker,
      },
      origin,
      { correlationId: workflowId, traceparent: `00-${TRACE_ID}-${String(index + 1).padStart(16, '0')}-01` },
    );
  }

  function failed(workflowId: string, index: number, error: string): EventEnvelope<TaskFailed> {
    return registry.create(
      TaskFailedV1,
      {
        taskId: `${workflowId}:${index}`,
        branchIndex: index,
        branchCount: documents.length,
        skill: 'keywords',
        inputId: documents[index].id,
        error,
        worker: 'worker@w-2',
      },
      origin,
      { correlationId: workflowId },
    );
  }

  function settled(): Promise<true> {
    return eventually('the aggregator to settle task.results', async () =>
      broker.backlog(qualifyTopic(naming, Topics.taskResults), 'aggregator') === 0 ? true : undefined,
    );
  }

  it('joins branches arriving out of order, counts a re-run branch once, and publishes one workflow.completed', async () => {
    const workflowId = 'wf-join-1';
    const outputs = await keywordsOutputs();
    const skill = createDefaultSkillRegistry().require('keywords');
    const expected = skill.combine(outputs); // in branch order

    // order 2, 0, (0 again: a re-run after a worker crash, new event id and a different output), 1
    const sequence = [
      completed(workflowId, 2, outputs[2].output),
      completed(workflowId, 0, outputs[0].output),
      completed(workflowId, 0, { keywords: [{ term: 'duplicate', score: 1 }] }, 'worker@w-9'),
      completed(workflowId, 1, outputs[1].output),
    ];
    expect(new Set(sequence.map((e) => e.id)).size).toBe(sequence.length);
    for (const event of sequence) await publishResult(event);

    const [outcome] = await eventually('workflow.completed', async () => {
      const found = await outcomes(workflowId);
      return found.length > 0 ? found : undefined;
    });
    // one more duplicate after the join must not publish again
    await publishResult(completed(workflowId, 1, outputs[1].output));
    await settled();

    const all = await outcomes(workflowId);
    expect(all).toHaveLength(1);
    expect(outcome.type).toBe('workflow.completed');
    expect(outcome.data).toEqual({ skill: 'keywords', branchCount: 3, succeeded: 3, failed: 0, result: expected });
    expect(outcome.source).toBe('aggregator@agg-1');
    expect(outcome.correlationId).toBe(workflowId);
    // caused by the result that completed the join, continuing its trace
    expect(outcome.causationId).toBe(sequence[3].id);
    expect(outcome.traceparent?.split('-')[1]).toBe(TRACE_ID);
    expect(await readAll(Topics.deadLetter)).toEqual([]);
  });

  it('publishes nothing until every branch has reported', async () => {
    const workflowId = 'wf-partial';
    const outputs = await keywordsOutputs();
    await publishResult(completed(workflowId, 0, outputs[0].output));
    await publishResult(completed(workflowId, 2, outputs[2].output));
    await publishResult(completed(workflowId, 2, outputs[2].output));
    await settled();
    expect(await outcomes(workflowId)).toEqual([]);
  });

  it('reports a failed branch as one workflow.failed listing the branch and its reason', async () => {
    const workflowId = 'wf-fail-1';
    const outputs = await keywordsOutputs();
    const error = 'SkillInputError: keywords: input orchard: text is empty';
    await publishResult(completed(workflowId, 2, outputs[2].output));
    await publishResult(failed(workflowId, 1, error));
    await publishResult(completed(workflowId, 0, outputs[0].output));

    const [outcome] = await eventually('workflow.failed', async () => {
      const found = await outcomes(workflowId);
      return found.length > 0 ? found : undefined;
    });
    // a late success for the failed branch (a duplicate task id) changes nothing
    await publishResult(completed(workflowId, 1, outputs[1].output));
    await settled();

    expect(await outcomes(workflowId)).toHaveLength(1);
    expect(outcome.type).toBe('workflow.failed');
    const data = outcome.data as WorkflowFailed;
    expect(data.failedBranches).toHaveLength(1);
    expect(data.failedBranches[0]).toContain(documents[1].id);
    expect(data.failedBranches[0]).toContain('1');
    expect(data.failedBranches.some((b) => b.includes(documents[0].id) || b.includes(documents[2].id))).toBe(false);
    expect(data.reason).toContain(documents[1].id);
    expect(data.reason).toContain(error);
    expect(data.reason).toContain(`1 of ${documents.length}`);
  });

  it('lists every failed branch in branch order', async () => {
    const workflowId = 'wf-fail-2';
    const outputs = await keywordsOutputs();
    await publishResult(failed(workflowId, 2, 'Error: boom two'));
    await publishResult(completed(workflowId, 1, outputs[1].output));
    await publishResult(failed(workflowId, 0, 'Error: boom zero'));
    const [outcome] = await eventually('workflow.failed', async () => {
      const found = await outcomes(workflowId);
      return found.length > 0 ? found : undefined;
    });
    const data = outcome.data as WorkflowFailed;
    expect(data.failedBranches).toHaveLength(2);
    expect(data.failedBranches[0]).toContain(documents[0].id);
    expect(data.failedBranches[1]).toContain(documents[2].id);
    expect(data.reason).toContain('boom zero');
    expect(data.reason).toContain('boom two');
  });

  it('joins interleaved workflows independently', async () => {
    const outputs = await keywordsOutputs();
    const skill = createDefaultSkillRegistry().require('keywords');
    for (const index of [1, 0, 2]) {
      await publishResult(completed('wf-x', index, outputs[index].output));
      await publishResult(completed('wf-y', 2 - index, outputs[2 - index].output));
    }
    const done = await eventually('both workflows', async () => {
      const x = await outcomes('wf-x');
      const y = await outcomes('wf-y');
      return x.length > 0 && y.length > 0 ? [x, y] : undefined;
    });
    for (const list of done) {
      expect(list).toHaveLength(1);
      expect((list[0].data as WorkflowCompleted).result).toEqual(skill.combine(outputs));
    }
  });
});
