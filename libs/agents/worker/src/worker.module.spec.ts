import { Module, type INestApplication } from '@nestjs/common';
import { DeadLetterProperties, MemoryBroker, type BusMessage, type EventBus } from '@agent-mesh/bus';
import {
  createMeshEventRegistry,
  envelopeProperties,
  MarketFillV1,
  qualifyTopic,
  TaskAssignedV1,
  Topics,
  type EventEnvelope,
  type EventRegistry,
  type RetryPolicy,
  type TaskAssigned,
  type TaskCompleted,
  type TaskFailed,
  type TopicNaming,
} from '@agent-mesh/contracts';
import { bootstrapAgent, MeshRuntimeModule } from '@agent-mesh/runtime';
import {
  createDefaultSkillRegistry,
  KeywordsSkill,
  SkillInputError,
  type Skill,
  type SkillContext,
  type SkillInput,
  type SkillOutput,
} from '@agent-mesh/skills';
import { TaskRunner } from './task-runner';
import { WorkerModule } from './worker.module';

const naming: TopicNaming = { tenant: 'agentmesh', namespace: 'mesh' };
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const TRACEPARENT = `00-${TRACE_ID}-b7ad6b7169203331-01`;
const origin = { source: 'orchestrator@test', region: 'test' };

/** A test skill whose run is supplied per test; counts its runs. */
class ScriptedSkill implements Skill {
  readonly description = 'test skill';
  readonly inputs: SkillInput[] = [];

  constructor(
    readonly name: string,
    private readonly behaviour: (input: SkillInput, context: SkillContext, call: number) => Promise<SkillOutput>,
    readonly retry?: Partial<RetryPolicy>,
  ) {}

  get calls(): number {
    return this.inputs.length;
  }

  run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    this.inputs.push(input);
    return this.behaviour(input, context, this.inputs.length);
  }

  combine(outputs: readonly { readonly inputId: string; readonly output: SkillOutput }[]): SkillOutput {
    return { count: outputs.length };
  }
}

async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Harness {
  readonly broker: MemoryBroker;
  readonly client: EventBus;
  readonly app: INestApplication;
  readonly registry: EventRegistry;
}

async function startWorker(
  instance: string,
  skills: readonly Skill[],
  env: Record<string, string> = {},
): Promise<Harness> {
  const broker = new MemoryBroker();
  const registry = createMeshEventRegistry();
  const skillRegistry = createDefaultSkillRegistry();
  for (const skill of skills) skillRegistry.register(skill);
  @Module({
    imports: [
      MeshRuntimeModule.forRoot({
        role: 'worker',
        broker,
        skills: skillRegistry,
        env: { MESH_TRANSPORT: 'memory', MESH_INSTANCE_ID: instance, MESH_REGION: 'test', REDIS_URL: '', ...env },
      }),
      WorkerModule,
    ],
  })
  class AppModule {}
  const app = await bootstrapAgent(AppModule, { port: 0, logLevels: ['error'] });
  return { broker, client: broker.connect(), app, registry };
}

async function stopWorker(h: Harness | undefined): Promise<void> {
  if (!h) return;
  await h.app.close();
  await h.client.close();
  h.broker.shutdown();
}

async function readAll(h: Harness, shortTopic: string): Promise<BusMessage[]> {
  const reader = await h.client.createReader({ topic: qualifyTopic(naming, shortTopic), startMessageId: 'earliest' });
  const out: BusMessage[] = [];
  while (await reader.hasMessageAvailable()) {
    const message = await reader.readNext(100);
    if (message) out.push(message);
  }
  await reader.close();
  return out;
}

async function results(
  h: Harness,
  topic: string = Topics.taskResults,
): Promise<EventEnvelope<TaskCompleted | TaskFailed>[]> {
  return (await readAll(h, topic)).map((message) => {
    const decoded = h.registry.decode(message.payload);
    if (!decoded.ok) throw new Error(`undecodable result: ${decoded.reason}`);
    return decoded.envelope as EventEnvelope<TaskCompleted | TaskFailed>;
  });
}

function firstResult(h: Harness): Promise<EventEnvelope<TaskCompleted | TaskFailed>> {
  return eventually('a task result', async () => (await results(h))[0]);
}

async function assign(h: Harness, task: TaskAssigned, correlationId: string): Promise<EventEnvelope<TaskAssigned>> {
  const envelope = h.registry.create(TaskAssignedV1, task, origin, { correlationId, traceparent: TRACEPARENT });
  await h.client.publish(qualifyTopic(naming, Topics.tasks(task.skill)), {
    payload: h.registry.encode(envelope),
    key: correlationId,
    properties: envelopeProperties(envelope),
  });
  return envelope;
}

function task(skill: string, text: string, params?: Record<string, unknown>, replyTopic?: string): TaskAssigned {
  return { taskId: 'wf-1:2', branchIndex: 2, branchCount: 3, skill, input: { id: 'doc-7', text }, params, replyTopic };
}

function settled(h: Harness, shortTopic: string): Promise<true> {
  return eventually(`workers to settle ${shortTopic}`, async () =>
    h.broker.backlog(qualifyTopic(naming, shortTopic), 'workers') === 0 ? true : undefined,
  );
}

describe('WorkerModule on a memory bus', () => {
  let h: Harness | undefined;

  afterEach(async () => {
    await stopWorker(h);
    h = undefined;
  });

  it('runs the keywords skill on a task.assigned and publishes task.completed with the skill’s own output', async () => {
    h = await startWorker('w-7', []);
    const text = 'Apple trees need pruning in winter. Pruned apple trees give larger apples and healthier apple trees.';
    const params = { top: 3 };
    const sent = await assign(h, task('keywords', text, params), 'wf-1');

    const result = await firstResult(h);
    const expected = await new KeywordsSkill().run(
      { id: 'doc-7', text, params },
      { signal: new AbortController().signal },
    );

    expect(result.type).toBe('task.completed');
    const data = result.data as TaskCompleted;
    expect(data.output).toEqual(expected);
    expect(data).toMatchObject({
      taskId: 'wf-1:2',
      branchIndex: 2,
      branchCount: 3,
      skill: 'keywords',
      inputId: 'doc-7',
      worker: 'worker@w-7',
    });
    expect(Number.isInteger(data.durationMs) && data.durationMs >= 0).toBe(true);
    expect(result.source).toBe('worker@w-7');
    expect(result.correlationId).toBe('wf-1');
    expect(result.causationId).toBe(sent.id);
    expect(result.traceparent?.split('-')[1]).toBe(TRACE_ID);
    expect(result.traceparent).not.toBe(TRACEPARENT);
    expect(result.id).not.toBe(sent.id);

    await settled(h, Topics.tasks('keywords'));
    expect(await results(h)).toHaveLength(1);
    expect((await readAll(h, Topics.taskResults))[0].key).toBe('wf-1');
  });

  it('reports a SkillInputError as task.failed at once, without a retry, and dead-letters the task as non-retryable', async () => {
    const skill = new ScriptedSkill('picky', async (input) => {
      throw new SkillInputError('picky', `input ${input.id}: not today`);
    });
    h = await startWorker('w-1', [skill]);
    const sent = await assign(h, task('picky', 'anything'), 'wf-2');

    const result = await firstResult(h);
    expect(result.type).toBe('task.failed');
    const data = result.data as TaskFailed;
    expect(data).toMatchObject({
      taskId: 'wf-1:2',
      branchIndex: 2,
      branchCount: 3,
      skill: 'picky',
      inputId: 'doc-7',
      worker: 'worker@w-1',
    });
    expect(data.error).toContain('SkillInputError');
    expect(data.error).toContain('not today');
    expect(result.causationId).toBe(sent.id);
    expect(result.traceparent?.split('-')[1]).toBe(TRACE_ID);

    // acked: nothing left to redeliver, and the skill ran once
    await settled(h, Topics.tasks('picky'));
    expect(skill.calls).toBe(1);
    const dead = await eventually('the dead letter', async () => (await readAll(h!, Topics.deadLetter))[0]);
    expect(dead.properties[DeadLetterProperties.reason]).toBe(
      'non-retryable: handler failed: SkillInputError: picky: input doc-7: not today',
    );
    expect(dead.properties[DeadLetterProperties.originTopic]).toBe(qualifyTopic(naming, Topics.tasks('picky')));
    expect(dead.properties[DeadLetterProperties.attempts]).toBe('1');
  });

  it('gives the skill the task id of this attempt and the work key of all attempts: sent, the task id when none is, the step’s for a market fill', async () => {
    const seen: { taskId?: string; workKey?: string }[] = [];
    const skill = new ScriptedSkill('keyed', async (_input, { taskId, workKey }) => {
      seen.push({ taskId, workKey });
      return { ok: true };
    });
    h = await startWorker('w-9', [skill]);
    await assign(h, { ...task('keyed', 'text'), taskId: 'wf-5:root:2:3', workKey: 'wf-5:root:2', attempt: 3 }, 'wf-5');
    await firstResult(h);
    await assign(h, { ...task('keyed', 'text'), taskId: 'wf-6:root:saga:0:action' }, 'wf-6');
    await eventually('two results', async () => ((await results(h!)).length === 2 ? true : undefined));
    // Two rounds of a market step's asks filled here: the same work, one work key.
    for (const askId of ['wf-7:root:ask-1', 'wf-7:root:attempt-2:ask-1']) {
      const fill = h.registry.create(
        MarketFillV1,
        {
          fillId: `${askId}:fill`,
          askId,
          bidId: `${askId}:worker@w-9`,
          market: 'keyed',
          workerId: 'worker@w-9',
          price: 1,
          stepPath: 'root',
          input: { id: 'doc-7', text: 'text' },
        },
        origin,
        { correlationId: 'wf-7' },
      );
      await h.client.publish(qualifyTopic(naming, Topics.marketFills), {
        payload: h.registry.encode(fill),
        key: 'keyed',
        properties: envelopeProperties(fill),
      });
    }
    await eventually('four results', async () => ((await results(h!)).length === 4 ? true : undefined));
    expect(seen).toEqual([
      { taskId: 'wf-5:root:2:3', workKey: 'wf-5:root:2' },
      { taskId: 'wf-6:root:saga:0:action', workKey: 'wf-6:root:saga:0:action' },
      { taskId: 'wf-7:root:ask-1:fill', workKey: 'wf-7:root' },
      { taskId: 'wf-7:root:attempt-2:ask-1:fill', workKey: 'wf-7:root' },
    ]);
  });

  it('retries a skill that throws, and recovers when a later delivery succeeds', async () => {
    const skill = new ScriptedSkill('flaky', async (_input, _context, call) => {
      if (call < 2) throw new Error(`transient failure ${call}`);
      return { ok: true, call };
    });
    h = await startWorker('w-2', [skill]);
    await assign(h, task('flaky', 'text'), 'wf-3');
    const result = await firstResult(h);
    expect(result.type).toBe('task.completed');
    expect((result.data as TaskCompleted).output).toEqual({ ok: true, call: 2 });
    expect(skill.calls).toBe(2);
  });

  it('retries a skill that keeps throwing by the skill’s retry policy, then dead-letters the task without a task.failed', async () => {
    const skill = new ScriptedSkill(
      'broken',
      async (_input, _context, call) => {
        throw new Error(`broken on call ${call}`);
      },
      { attempts: 3, initialDelayMs: 20 },
    );
    h = await startWorker('w-3', [skill]);
    const sent = await assign(h, task('broken', 'text'), 'wf-4');

    const dead = await eventually('the dead letter', async () => (await readAll(h!, Topics.deadLetter))[0]);
    expect(skill.calls).toBe(3);
    expect(dead.properties[DeadLetterProperties.reason]).toBe(
      'retries exhausted after 3 attempt(s): handler failed: Error: broken on call 3',
    );
    expect(dead.properties[DeadLetterProperties.originTopic]).toBe(qualifyTopic(naming, Topics.tasks('broken')));
    expect(dead.properties[DeadLetterProperties.subscription]).toBe('workers');
    expect(dead.properties[DeadLetterProperties.attempts]).toBe('3');
    expect(JSON.parse(dead.payload.toString('utf8'))).toMatchObject({ id: sent.id });
    // parked for `mesh dlq replay`: no result, and no more runs
    await settled(h, Topics.tasks('broken'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await results(h)).toEqual([]);
    expect(skill.calls).toBe(3);
  });

  it('retries a task that exceeds TASK_TIMEOUT_MS, aborting the skill’s signal each time, then dead-letters it', async () => {
    const TIMEOUT_MS = 60;
    const aborts: unknown[] = [];
    const skill = new ScriptedSkill(
      'sleepy',
      (_input, context) => {
        context.signal.addEventListener('abort', () => aborts.push(context.signal.reason), { once: true });
        return new Promise<SkillOutput>(() => undefined); // never settles
      },
      { attempts: 2, initialDelayMs: 10 },
    );
    h = await startWorker('w-4', [skill], { TASK_TIMEOUT_MS: String(TIMEOUT_MS) });
    await assign(h, task('sleepy', 'text'), 'wf-5');

    const dead = await eventually('the dead letter', async () => (await readAll(h!, Topics.deadLetter))[0]);
    expect(dead.properties[DeadLetterProperties.reason]).toContain('TASK_TIMEOUT_MS');
    expect(dead.properties[DeadLetterProperties.reason]).toContain(String(TIMEOUT_MS));
    expect(skill.calls).toBe(2);
    expect(aborts).toHaveLength(2);
    expect(aborts.every((reason) => reason instanceof Error && reason.message.includes('TASK_TIMEOUT_MS'))).toBe(true);
    expect(await results(h)).toEqual([]);
  });

  it('aborts the signal of every running task at shutdown, and of no finished one', async () => {
    const signals: AbortSignal[] = [];
    const skill = new ScriptedSkill('stuck', (_input, context, call) => {
      signals.push(context.signal);
      // The second call runs until its signal aborts; the others (its redelivery too) finish.
      if (call !== 2) return Promise.resolve({ done: true });
      return new Promise<SkillOutput>((_, reject) =>
        context.signal.addEventListener('abort', () => reject(context.signal.reason), { once: true }),
      );
    });
    h = await startWorker('w-10', [skill]);
    await assign(h, task('stuck', 'first'), 'wf-10');
    await firstResult(h);
    await assign(h, task('stuck', 'second'), 'wf-11');
    await eventually('the second task running', async () => (skill.calls === 2 ? true : undefined));

    h.app.get(TaskRunner).onApplicationShutdown();
    expect(signals).toHaveLength(2);
    expect(signals[0].aborted).toBe(false);
    expect(signals[1].aborted).toBe(true);
    expect((signals[1].reason as { name?: unknown }).name).toBe('AbortError');
  });

  it('subscribes only to the skills in WORKER_SKILLS', async () => {
    h = await startWorker('w-5', [], { WORKER_SKILLS: 'sentiment' });
    await assign(h, task('keywords', 'Nobody serves this topic here.'), 'wf-6');
    const sent = await assign(h, task('sentiment', 'What a wonderful, happy day.'), 'wf-7');
    const result = await firstResult(h);
    expect(result.causationId).toBe(sent.id);
    expect(result.data.skill).toBe('sentiment');
    await settled(h, Topics.tasks('sentiment'));
    // give an (unwanted) keywords consumer time to answer too
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await results(h)).map((r) => r.data.skill)).toEqual(['sentiment']);
  });

  describe('reply topic', () => {
    it('publishes task.completed on the task’s replyTopic, and nothing on task.results', async () => {
      h = await startWorker('w-8', []);
      const sent = await assign(
        h,
        task('keywords', 'Bees visit flowers. Flowers feed bees.', { top: 2 }, Topics.sagaTaskResults),
        'wf-8',
      );
      const result = await eventually(
        'a result on task.results.saga',
        async () => (await results(h!, Topics.sagaTaskResults))[0],
      );
      expect(result.type).toBe('task.completed');
      expect(result.causationId).toBe(sent.id);
      expect(result.data).toMatchObject({ taskId: 'wf-1:2', skill: 'keywords', worker: 'worker@w-8' });
      // the reply topic is the worker's business, not part of the result
      expect(result.data).not.toHaveProperty('replyTopic');
      await settled(h, Topics.tasks('keywords'));
      expect(await results(h, Topics.taskResults)).toEqual([]);
    });

    it('publishes task.failed on the replyTopic too', async () => {
      const skill = new ScriptedSkill('picky', async () => {
        throw new SkillInputError('picky', 'no');
      });
      h = await startWorker('w-9', [skill]);
      await assign(h, task('picky', 'anything', undefined, Topics.solverTaskResults), 'wf-9');
      const result = await eventually(
        'a result on task.results.solver-rounds',
        async () => (await results(h!, Topics.solverTaskResults))[0],
      );
      expect(result.type).toBe('task.failed');
      await settled(h, Topics.tasks('picky'));
      expect(await results(h, Topics.taskResults)).toEqual([]);
    });

    it('dead-letters a task whose replyTopic is outside the task-results family, and publishes nothing there', async () => {
      const skill = new ScriptedSkill('obedient', async () => ({ ok: true }));
      h = await startWorker('w-10', [skill]);
      // Built by hand: the registry refuses to create such a task.
      const valid = h.registry.create(TaskAssignedV1, task('obedient', 'text'), origin, { correlationId: 'wf-10' });
      const tampered = { ...valid, data: { ...valid.data, replyTopic: Topics.workflowEvents } };
      await h.client.publish(qualifyTopic(naming, Topics.tasks('obedient')), {
        payload: Buffer.from(JSON.stringify(tampered)),
        key: 'wf-10',
      });
      const dead = await eventually('the dead letter', async () => (await readAll(h!, Topics.deadLetter))[0]);
      expect(dead.properties['dlq.reason']).toContain('replyTopic');
      expect(skill.calls).toBe(0);
      expect(await readAll(h, Topics.workflowEvents)).toEqual([]);
      expect(await results(h)).toEqual([]);
      // and the runner itself refuses, should a task reach it unvalidated
      const ref = { taskId: 'wf-10:0', branchIndex: 0, branchCount: 1, skill: 'obedient' };
      await expect(
        h.app.get(TaskRunner).run(ref, { input: { id: 'a', text: 'text' } }, valid, Topics.workflowEvents),
      ).rejects.toThrow(/reply topic/);
      expect(skill.calls).toBe(0);
    });
  });
});
