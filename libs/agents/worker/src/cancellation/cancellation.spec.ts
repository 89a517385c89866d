import { Module, type INestApplication } from '@nestjs/common';
import { MemoryBroker, type EventBus } from '@agent-mesh/bus';
import {
  createMeshEventRegistry,
  envelopeProperties,
  qualifyTopic,
  TaskAssignedV1,
  Topics,
  WorkflowCancelledV1,
  WorkflowTimedOutV1,
  type EventDefinition,
  type EventEnvelope,
  type EventRegistry,
  type TaskAssigned,
  type TaskCompleted,
  type TopicNaming,
} from '@agent-mesh/contracts';
import { bootstrapAgent, MeshRuntimeModule } from '@agent-mesh/runtime';
import {
  createDefaultSkillRegistry,
  WorkflowCancelledError,
  type Skill,
  type SkillContext,
  type SkillInput,
  type SkillOutput,
} from '@agent-mesh/skills';
import { WorkerModule } from '../worker.module';

const naming: TopicNaming = { tenant: 'agentmesh', namespace: 'mesh' };
const origin = { source: 'orchestrator@test', region: 'test' };

/** Runs until its input is released, or until its signal aborts; records both. */
class WaitingSkill implements Skill {
  readonly name = 'waits';
  readonly description = 'waits for release or abort (test)';
  readonly started: string[] = [];
  readonly aborted = new Map<string, unknown>();
  private readonly releases = new Map<string, () => void>();

  run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    this.started.push(input.id);
    return new Promise((resolve, reject) => {
      this.releases.set(input.id, () => resolve({ done: input.id }));
      context.signal.addEventListener('abort', () => {
        this.aborted.set(input.id, context.signal.reason);
        reject(context.signal.reason);
      });
    });
  }

  release(inputId: string): void {
    this.releases.get(inputId)?.();
  }

  combine(): SkillOutput {
    return {};
  }
}

async function eventually<T>(what: string, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 8000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('a worker stops the tasks of a workflow that ended early (memory bus)', () => {
  let broker: MemoryBroker;
  let client: EventBus;
  let app: INestApplication;
  let skill: WaitingSkill;
  const registry: EventRegistry = createMeshEventRegistry();

  beforeEach(async () => {
    broker = new MemoryBroker();
    client = broker.connect();
    skill = new WaitingSkill();
    @Module({
      imports: [
        MeshRuntimeModule.forRoot({
          role: 'worker',
          broker,
          skills: createDefaultSkillRegistry().register(skill),
          env: { MESH_TRANSPORT: 'memory', MESH_INSTANCE_ID: 'w-1', MESH_REGION: 'test', REDIS_URL: '' },
        }),
        WorkerModule,
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

  async function publish<T extends object>(topic: string, event: EventDefinition<T>, data: T, workflowId: string) {
    const envelope = registry.create(event, data, origin, { correlationId: workflowId });
    await client.publish(qualifyTopic(naming, topic), {
      payload: registry.encode(envelope),
      key: workflowId,
      properties: envelopeProperties(envelope),
    });
  }

  const assign = (workflowId: string, inputId: string, role = 'task', replyTopic?: string) =>
    publish(
      Topics.tasks('waits'),
      TaskAssignedV1,
      {
        taskId: `${workflowId}:root:${role}:${inputId}`,
        branchIndex: 0,
        branchCount: 1,
        skill: 'waits',
        input: { id: inputId, text: 'some text' },
        replyTopic,
      } satisfies TaskAssigned,
      workflowId,
    );

  const started = (inputId: string) =>
    eventually(`${inputId} to start`, () => (skill.started.includes(inputId) ? true : undefined));

  /** Every task delivered was acked: handled, skipped or aborted — none left to redeliver. */
  const settled = () =>
    eventually('the tasks to be acked', () =>
      broker.backlog(qualifyTopic(naming, Topics.tasks('waits')), 'workers') === 0 ? true : undefined,
    );

  async function results(topic: string): Promise<{ type: string; inputId: string }[]> {
    const reader = await client.createReader({ topic: qualifyTopic(naming, topic), startMessageId: 'earliest' });
    const out: { type: string; inputId: string }[] = [];
    while (await reader.hasMessageAvailable()) {
      const message = await reader.readNext(100);
      if (!message) continue;
      const envelope = JSON.parse(message.payload.toString()) as EventEnvelope<TaskCompleted>;
      out.push({ type: envelope.type, inputId: envelope.data.inputId });
    }
    await reader.close();
    return out;
  }

  it('workflow.cancelled aborts its running task and skips its queued ones; other workflows carry on', async () => {
    await assign('wf-1', 'a');
    await assign('wf-2', 'other');
    await Promise.all([started('a'), started('other')]);

    await publish(Topics.workflowEvents, WorkflowCancelledV1, { reason: 'no longer needed' }, 'wf-1');
    const reason = await eventually('a to be aborted', () => skill.aborted.get('a'));
    expect(reason).toBeInstanceOf(WorkflowCancelledError);
    expect(reason).toMatchObject({ workflowId: 'wf-1', endedBy: 'workflow.cancelled', reason: 'no longer needed' });

    await assign('wf-1', 'b'); // delivered after the cancel
    skill.release('other');
    await settled();

    expect(skill.started).toEqual(['a', 'other']); // b never ran
    expect(skill.aborted.has('other')).toBe(false);
    // The aborted task publishes nothing; the other workflow's task its result.
    expect(await results(Topics.taskResults)).toEqual([{ type: 'task.completed', inputId: 'other' }]);
  });

  it('workflow.timed-out aborts the running task the same way', async () => {
    await assign('wf-1', 'a');
    await started('a');
    await publish(Topics.workflowEvents, WorkflowTimedOutV1, { reason: 'past its deadline', stepPath: 'root' }, 'wf-1');
    const reason = await eventually('a to be aborted', () => skill.aborted.get('a'));
    expect(reason).toMatchObject({ workflowId: 'wf-1', endedBy: 'workflow.timed-out', reason: 'past its deadline' });
    await assign('wf-1', 'b');
    await settled();
    expect(skill.started).toEqual(['a']);
    expect(await results(Topics.taskResults)).toEqual([]);
  });

  it('never stops a saga’s tasks: its running action finishes, its compensation runs after the cancel', async () => {
    await assign('wf-3', 'charge', 'saga:1:action', Topics.sagaTaskResults);
    await started('charge');
    await publish(Topics.workflowEvents, WorkflowCancelledV1, { reason: 'customer changed their mind' }, 'wf-3');
    // The cancel is seen (a plain task of the workflow is skipped) before the compensation arrives.
    await assign('wf-3', 'plain');
    await settledExcept(1);
    await assign('wf-3', 'release', 'saga:0:compensation', Topics.sagaTaskResults);
    await started('release');
    skill.release('release');
    skill.release('charge');
    await settled();

    expect(skill.aborted.size).toBe(0);
    expect(skill.started).toEqual(['charge', 'release']);
    expect(await results(Topics.sagaTaskResults)).toEqual(
      expect.arrayContaining([
        { type: 'task.completed', inputId: 'release' },
        { type: 'task.completed', inputId: 'charge' },
      ]),
    );
  });

  /** Only `running` tasks left unacked. */
  function settledExcept(running: number) {
    return eventually('the other tasks to be acked', () =>
      broker.backlog(qualifyTopic(naming, Topics.tasks('waits')), 'workers') === running ? true : undefined,
    );
  }
});
