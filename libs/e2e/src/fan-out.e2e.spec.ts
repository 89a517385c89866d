import { DeadLetterProperties } from '@agent-mesh/bus';
import { Topics } from '@agent-mesh/contracts';
import { createDefaultSkillRegistry } from '@agent-mesh/skills';
import { MemoryStateStore } from '@agent-mesh/state';
import { FaultyStore, type StoreWrite } from '@agent-mesh/state/testing';
import { eventually, FaultyBus, InProcessMesh, startAgents, WORKFLOW_ROLES, WorkflowClient } from '@agent-mesh/testing';
import { decodeAll } from './support/expectations';
import { FlakySkill } from './support/test-skills';

interface WorkflowBody {
  status: string;
  skill: string;
  branchCount: number;
  branches: {
    index: number;
    inputId: string;
    status: string;
    attempt: number;
    worker?: string;
    output?: Record<string, unknown>;
  }[];
  result?: Record<string, unknown>;
  reason?: string;
}

const documents = [
  { id: 'tides', text: 'The tide rose quickly. Fishermen hauled their boats above the tide line before the storm.' },
  {
    id: 'orchard',
    text: 'Apple trees need pruning in winter. Pruned trees give larger apples and healthier branches.',
  },
  { id: 'library', text: 'The new library opened downtown. Readers praised the quiet rooms and the friendly staff.' },
];

describe('fan-out workflow across agent processes (memory bus)', () => {
  let mesh: InProcessMesh;
  let client: WorkflowClient;

  beforeEach(async () => {
    mesh = new InProcessMesh();
    const [orchestrator] = await startAgents(mesh, WORKFLOW_ROLES);
    client = new WorkflowClient(orchestrator.url);
  });

  afterEach(() => mesh.stopAll());

  it('runs every branch on a worker and aggregates with the skill’s own combine', async () => {
    const { status, json } = await client.post({ skill: 'keywords', inputs: documents, params: { top: 5 } });
    expect(status).toBe(202);
    const workflow = await client.finished<WorkflowBody>(String(json['workflowId']));

    expect(workflow.status).toBe('completed');
    expect(workflow.branches.map((b) => [b.inputId, b.status])).toEqual(documents.map((d) => [d.id, 'completed']));
    expect(workflow.branches.every((b) => b.worker?.startsWith('worker@worker-'))).toBe(true);

    // The expected aggregate is computed here by running the skill directly, not written down.
    const skill = createDefaultSkillRegistry().require('keywords');
    const signal = new AbortController().signal;
    const outputs = await Promise.all(
      documents.map(async (d) => ({
        inputId: d.id,
        output: await skill.run({ id: d.id, text: d.text, params: { top: 5 } }, { signal }),
      })),
    );
    expect(workflow.branches.map((b) => b.output)).toEqual(outputs.map((o) => o.output));
    expect(workflow.result).toEqual(skill.combine(outputs));
  });

  it('answers 400 naming each bad field, and 404 for an unknown workflow', async () => {
    const cases: [unknown, string][] = [
      [{ inputs: documents }, 'skill'],
      [{ skill: 'keywords', inputs: [] }, 'inputs'],
      [
        {
          skill: 'keywords',
          inputs: [
            { id: 'a', text: 'fine' },
            { id: 'b', text: '' },
          ],
        },
        'inputs.1.text',
      ],
      [{ skill: 'keywords', inputs: documents, colour: 'blue' }, 'colour'],
      [{ skill: 'no-such-skill', inputs: documents }, 'skill'],
    ];
    for (const [body, field] of cases) {
      const { status, json } = await client.post(body);
      expect(status).toBe(400);
      const fields = (json['errors'] as { field: string }[]).map((e) => e.field);
      expect(fields).toContain(field);
    }
    const missing = await client.request('GET', '/workflows/01a1fdc7-0000-7000-8000-000000000000');
    expect(missing.status).toBe(404);
  });

  it('reports a failed branch as a failed workflow with the reason', async () => {
    // readability refuses text without sentences of words: a SkillInputError, not a crash.
    const { json } = await client.post({
      skill: 'readability',
      inputs: [documents[0], { id: 'numbers', text: '123 456 789.' }],
    });
    const workflow = await client.finished<WorkflowBody>(String(json['workflowId']));
    expect(workflow.status).toBe('failed');
    expect(workflow.reason).toContain('numbers');
    expect(workflow.branches.find((b) => b.inputId === 'numbers')?.status).toBe('failed');
    expect(workflow.branches.find((b) => b.inputId === 'tides')?.status).toBe('completed');
  });

  it('dead-letters unparseable, unknown and invalid events with a reason and keeps serving', async () => {
    await mesh.publishRaw(Topics.tasks('keywords'), '{"this is": not json');
    await mesh.publishRaw(
      Topics.workflowEvents,
      JSON.stringify({
        id: '01a1fdc7-0000-7000-8000-000000000001',
        type: 'workflow.teleported',
        version: 1,
        correlationId: 'wf-x',
        source: 'test',
        region: 'test',
        occurredAt: new Date().toISOString(),
        data: {},
      }),
    );
    await mesh.publishRaw(
      Topics.tasks('keywords'),
      JSON.stringify({
        id: '01a1fdc7-0000-7000-8000-000000000002',
        type: 'task.assigned',
        version: 1,
        correlationId: 'wf-y',
        source: 'test',
        region: 'test',
        occurredAt: new Date().toISOString(),
        data: { taskId: 'wf-y:0', branchIndex: -1, branchCount: 1, skill: 'keywords', input: { id: 'a' } },
      }),
    );

    const letters = await eventually('three dead letters', async () => {
      const all = await mesh.deadLetters();
      return all.length >= 3 ? all : undefined;
    });
    const reasons = letters.map((m) => m.properties[DeadLetterProperties.reason]);
    expect(reasons.some((r) => r.startsWith('unparseable:'))).toBe(true);
    expect(reasons.some((r) => r.startsWith('unknown-type:') && r.includes('workflow.teleported@1'))).toBe(true);
    expect(
      reasons.some((r) => r.startsWith('invalid-data:') && r.includes('branchIndex') && r.includes('input.text')),
    ).toBe(true);
    expect(letters.every((m) => m.properties[DeadLetterProperties.originTopic])).toBe(true);

    // And the agents still serve.
    const { json } = await client.post({ skill: 'sentiment', inputs: documents });
    expect((await client.finished<WorkflowBody>(String(json['workflowId']))).status).toBe('completed');
  });
});

describe('a retried branch whose result reaches the orchestrator late (memory bus)', () => {
  let mesh: InProcessMesh;

  afterEach(() => mesh.stopAll());

  it('the fan-out ends once the retry’s result is projected, not on its failed first attempt', async () => {
    mesh = new InProcessMesh();
    const flaky = new FlakySkill();
    const skills = () => {
      const registry = createDefaultSkillRegistry();
      registry.register(flaky);
      return registry;
    };
    // The orchestrator's projection of the retry's result (branch 1, attempt 2, completed) fails
    // once and comes again a second later: the aggregator's fanout.completed overtakes it.
    const failed: StoreWrite[] = [];
    const retryProjection = (write: StoreWrite) =>
      write.method === 'recordSlot' && write.names.some((name) => name.endsWith('#1=2:completed'));
    const [orchestrator] = await startAgents(mesh, WORKFLOW_ROLES, (role) => ({
      skills: skills(),
      ...(role === 'orchestrator' && {
        stateStore: new FaultyStore(new MemoryStateStore(), (write) => {
          if (failed.length > 0 || !retryProjection(write)) return 'pass';
          failed.push(write);
          return 'before';
        }),
        wrapBus: (bus) => new FaultyBus(bus, { decide: () => 'pass', nackRedeliveryDelayMs: 1000 }),
      }),
    }));
    const client = new WorkflowClient(orchestrator.url);
    const inputs = [
      { id: 'late-a', text: 'alpha beta' },
      { id: 'late-b', text: 'flaky gamma delta' },
      { id: 'late-c', text: 'zeta' },
    ];
    const id = await client.submit({
      step: { kind: 'fan-out', skill: 'flaky', inputs, policy: { type: 'retry-branch', maxRetries: 2 } },
    });
    const workflow = await client.finished<WorkflowBody>(id);

    expect(failed).toHaveLength(1);
    expect(workflow.status).toBe('completed');
    expect(workflow.branches.map((b) => [b.index, b.status, b.attempt])).toEqual([
      [0, 'completed', 1],
      [1, 'completed', 2],
      [2, 'completed', 1],
    ]);
    const completed = decodeAll<{ branchCount: number; succeeded: number; failed: number }>(
      await mesh.readAll(Topics.workflowEvents),
      'workflow.completed',
    );
    expect(completed.map((e) => [e.data.branchCount, e.data.succeeded, e.data.failed])).toEqual([[3, 3, 0]]);
  });
});
