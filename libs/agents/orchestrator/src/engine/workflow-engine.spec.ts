import { uuidv7, validateWorkflowSpec, type WorkflowDeadline, type WorkflowSpec } from '@agent-mesh/contracts';
import { createDefaultSkillRegistry } from '@agent-mesh/skills';
import { MemoryStateStore } from '@agent-mesh/state';
import { cause, doc, RecordingPublisher, types, type Published } from './recording-publisher';
import { WorkflowEngine } from './workflow-engine';
import { WorkflowState } from './workflow-state';

const timersOf = (events: readonly Published[]) => events.filter((e) => e.topic === 'workflow.timers');

describe('WorkflowEngine', () => {
  let publisher: RecordingPublisher;
  let workflows: WorkflowState;
  let engine: WorkflowEngine;

  beforeEach(() => {
    publisher = new RecordingPublisher();
    workflows = new WorkflowState(new MemoryStateStore());
    engine = new WorkflowEngine(workflows, publisher, createDefaultSkillRegistry());
  });

  async function begin(step: object, deadlineMs?: number): Promise<{ id: string; spec: WorkflowSpec }> {
    const spec = validateWorkflowSpec({ step, deadlineMs });
    const id = uuidv7();
    await workflows.accept(id, spec, new Date().toISOString());
    await engine.begin(id, spec, cause(), { origin: 'submit' });
    return { id, spec };
  }

  const stepOf = async (id: string, path: string) => (await workflows.steps(id)).find((s) => s.path === path);

  describe('starting each step kind', () => {
    it('task: one task.assigned with a stable task id, then step.started', async () => {
      const { id } = await begin({ kind: 'task', skill: 'keywords', input: doc('a', 'bees and flowers') });
      const events = publisher.take();
      expect(types(events)).toEqual(['task.assigned tasks.keywords', 'step.started workflow.events']);
      expect(events[0].data).toMatchObject({
        taskId: `${id}:root:1`,
        stepPath: 'root',
        attempt: 1,
        input: doc('a', 'bees and flowers'),
      });
      expect(await workflows.status(id)).toBe('running');
      expect(await stepOf(id, 'root')).toMatchObject({ kind: 'task', status: 'running', attempt: 1 });
    });

    it('fan-out: fanout.started ahead of one task per branch, the branches projected as pending', async () => {
      const { id } = await begin({
        kind: 'fan-out',
        skill: 'keywords',
        inputs: [doc('a', 'x'), doc('b', 'y'), doc('c', 'z')],
        policy: { type: 'quorum', k: 2 },
      });
      const events = publisher.take();
      const onResults = events.filter((e) => e.topic !== 'workflow.events' && e.topic !== 'workflow.timers');
      // The join reaches task.results before any task is out, so the aggregator knows it before any result.
      expect(types(onResults)).toEqual([
        'fanout.started task.results',
        ...Array(3).fill('task.assigned tasks.keywords'),
      ]);
      expect(types(events.filter((e) => e.topic === 'workflow.events'))).toEqual(['step.started workflow.events']);
      expect(onResults[0].data).toMatchObject({
        branchCount: 3,
        policy: { type: 'quorum', k: 2 },
        strategy: { type: 'combine' },
      });
      expect(onResults.slice(1).map((e) => e.data['taskId'])).toEqual([0, 1, 2].map((b) => `${id}:root:${b}:1`));
      expect((await workflows.branches(id)).map((b) => b.status)).toEqual(['pending', 'pending', 'pending']);
    });

    it('chain: its first stage starts with it, the later stages wait', async () => {
      const { id } = await begin({
        kind: 'chain',
        stages: [
          { step: { kind: 'task', skill: 'summarize', input: doc('a', 'One. Two. Three.') } },
          { step: { kind: 'task', skill: 'keywords', inputFrom: { source: 'previous', field: 'summary' } } },
        ],
      });
      expect(types(publisher.take())).toEqual([
        'task.assigned tasks.summarize',
        'step.started workflow.events',
        'step.started workflow.events',
      ]);
      expect((await workflows.steps(id)).map((s) => s.path)).toEqual(['root', 'root.stages.0']);
    });

    it('supervisor: every child starts with it', async () => {
      const { id } = await begin({
        kind: 'supervisor',
        children: [
          { kind: 'task', skill: 'keywords', input: doc('a', 'x') },
          { kind: 'task', skill: 'keywords', input: doc('b', 'y') },
        ],
      });
      expect(types(publisher.take()).filter((t) => t.startsWith('task.assigned'))).toHaveLength(2);
      expect((await workflows.steps(id)).map((s) => s.path)).toEqual(['root', 'root.children.0', 'root.children.1']);
    });

    it('saga: saga.start to the saga coordinator, not on the timeline', async () => {
      const { id } = await begin({
        kind: 'saga',
        steps: [
          {
            name: 'reserve',
            action: { skill: 'keywords', input: doc('a', 'x') },
            compensation: { skill: 'keywords', input: doc('a', 'undo') },
            deadlineMs: 1000,
          },
        ],
      });
      const events = publisher.take();
      expect(types(events)).toEqual(['saga.start saga.commands', 'step.started workflow.events']);
      expect(events[0].data).toMatchObject({ stepPath: 'root', steps: [{ name: 'reserve' }] });
      expect((await workflows.view(id))?.timeline.map((e) => e.type)).toEqual(['step.started']);
    });

    it('market: an ask keyed by its market, with the budget', async () => {
      await begin({ kind: 'market', skill: 'keywords', input: doc('a', 'x'), budget: 5, expireAfterMs: 1000 });
      const [ask] = publisher.take().filter((e) => e.topic !== 'workflow.timers');
      expect(ask).toMatchObject({
        type: 'market.ask',
        topic: 'market.asks',
        key: 'keywords',
        data: { budget: 5, market: 'keywords', bidWindowMs: 200 },
      });
      expect(String(ask.data['askId'])).toMatch(/:root:ask-1$/);
    });

    it('solver rounds: solver.start to the market maker', async () => {
      await begin({
        kind: 'solver-rounds',
        skill: 'keywords',
        input: doc('a', 'x'),
        solvers: 2,
        rounds: 2,
        strategy: { type: 'all' },
      });
      expect(types(publisher.take())).toEqual(['solver.start market.rounds', 'step.started workflow.events']);
    });

    it('blackboard: the seed entries on the board, in order', async () => {
      await begin({
        kind: 'blackboard',
        board: 'ideas',
        seed: [
          { kind: 'question', text: 'one' },
          { kind: 'question', text: 'two' },
        ],
        sources: [{ name: 'kw', skill: 'keywords', on: 'question', produces: 'answer' }],
        until: { kind: 'answer', count: 1 },
        maxEntries: 10,
      });
      const seeds = publisher.take().filter((e) => e.topic === 'blackboard.ideas');
      expect(seeds.map((e) => e.data['entryId'])).toEqual(['seed-0', 'seed-1']);
    });
  });

  describe('ending steps', () => {
    it("a chain stage's end starts the next stage with its output; the last one ends the workflow", async () => {
      const { id } = await begin({
        kind: 'chain',
        stages: [
          {
            step: { kind: 'task', skill: 'summarize', input: doc('a', 'x') },
            gate: { checks: [{ field: 'summary', op: 'exists' }], onFail: { action: 'fail' } },
          },
          { step: { kind: 'task', skill: 'keywords', inputFrom: { source: 'previous', field: 'summary' } } },
        ],
      });
      publisher.take();
      await engine.completeStep(id, 'root.stages.0', 1, { summary: 'bees visit flowers' }, cause());
      const events = publisher.take();
      expect(types(events)).toEqual([
        'task.assigned tasks.keywords',
        'step.completed workflow.events',
        'stage.validated workflow.events',
        'step.started workflow.events',
      ]);
      expect(events[0].data).toMatchObject({ input: { id: 'root.stages.0.summary', text: 'bees visit flowers' } });
      await engine.completeStep(id, 'root.stages.1', 1, { keywords: ['bees'] }, cause());
      expect(types(publisher.take())).toEqual([
        'workflow.completed workflow.events',
        'step.completed workflow.events',
        'step.completed workflow.events',
      ]);
      expect(await workflows.view(id)).toMatchObject({ status: 'completed', result: { keywords: ['bees'] } });
    });

    it('a failing gate with retry runs the stage again as attempt 2; past its retries the chain and the workflow fail', async () => {
      const { id } = await begin({
        kind: 'chain',
        stages: [
          {
            step: { kind: 'task', skill: 'summarize', input: doc('a', 'x') },
            gate: { checks: [{ field: 'summary', op: 'min', value: 10 }], onFail: { action: 'retry', maxRetries: 1 } },
          },
        ],
      });
      publisher.take();
      await engine.completeStep(id, 'root.stages.0', 1, { summary: 'short' }, cause());
      const retry = publisher.take();
      expect(types(retry)).toEqual([
        'task.assigned tasks.summarize',
        'step.completed workflow.events',
        'stage.failed workflow.events',
        'step.started workflow.events',
      ]);
      expect(retry[0].data).toMatchObject({ taskId: `${id}:root.stages.0:2`, attempt: 2 });
      await engine.completeStep(id, 'root.stages.0', 2, { summary: 'short again'.slice(0, 5) }, cause());
      expect(types(publisher.take())).toContain('workflow.failed workflow.events');
      expect(await workflows.view(id)).toMatchObject({
        status: 'failed',
        reason: expect.stringContaining('still failing after 2 attempts'),
      });
    });

    it("a supervisor rolls its children up with their skill's combine once all have ended", async () => {
      const { id } = await begin({
        kind: 'supervisor',
        children: [
          { kind: 'task', skill: 'keywords', input: doc('a', 'x') },
          { kind: 'task', skill: 'keywords', input: doc('b', 'y') },
        ],
      });
      publisher.take();
      const keywords = createDefaultSkillRegistry().require('keywords');
      const run = (input: { id: string; text: string }) =>
        keywords.run(input, { signal: new AbortController().signal });
      const outputs = [await run(doc('a', 'bees visit flowers')), await run(doc('b', 'bees make honey'))];
      await engine.completeStep(id, 'root.children.0', 1, outputs[0], cause());
      expect(await workflows.status(id)).toBe('running');
      await engine.completeStep(id, 'root.children.1', 1, outputs[1], cause());
      expect(await workflows.status(id)).toBe('completed');
      const combined = keywords.combine(outputs.map((output, i) => ({ inputId: `task-${i}`, output })));
      expect((await stepOf(id, 'root'))?.output).toEqual(combined);
      expect((await workflows.view(id))?.result).toEqual(combined);
    });

    it("a child's failure fails its parent and the workflow; a compensated saga ends the workflow compensated", async () => {
      const { id } = await begin({
        kind: 'supervisor',
        children: [
          {
            kind: 'saga',
            steps: [
              {
                name: 'reserve',
                action: { skill: 'keywords', input: doc('a', 'x') },
                compensation: { skill: 'keywords', input: doc('a', 'undo') },
                deadlineMs: 1000,
              },
            ],
          },
        ],
      });
      publisher.take();
      await engine.failStep(id, 'root.children.0', 1, 'step 1 failed', cause(), { compensated: true });
      expect(types(publisher.take())).toEqual([
        'workflow.compensated workflow.events',
        'step.failed workflow.events',
        'step.failed workflow.events',
      ]);
      expect(await workflows.view(id)).toMatchObject({
        status: 'compensated',
        reason: 'root.children.0 failed: step 1 failed',
      });
    });

    it('a task whose input is missing from the previous output fails as it starts', async () => {
      const { id } = await begin({
        kind: 'chain',
        stages: [
          { step: { kind: 'task', skill: 'summarize', input: doc('a', 'x') } },
          { step: { kind: 'task', skill: 'keywords', inputFrom: { source: 'previous', field: 'summary' } } },
        ],
      });
      await engine.completeStep(id, 'root.stages.0', 1, { other: 1 }, cause());
      expect(await stepOf(id, 'root.stages.1')).toMatchObject({
        status: 'failed',
        error: 'input summary of the previous output is missing',
      });
      expect(await workflows.status(id)).toBe('failed');
    });
  });

  describe('redeliveries and races', () => {
    const chainOfTwo = {
      kind: 'chain',
      stages: [
        { step: { kind: 'task', skill: 'summarize', input: doc('a', 'x') } },
        { step: { kind: 'task', skill: 'keywords', input: doc('b', 'y') } },
      ],
    };

    it('the same event again (replayed) publishes its work again and writes nothing twice', async () => {
      const { id } = await begin(chainOfTwo);
      publisher.take();
      const result = cause();
      await engine.completeStep(id, 'root.stages.0', 1, { summary: 's' }, result);
      const first = publisher.take();
      const timeline = (await workflows.view(id))?.timeline.length;
      await engine.completeStep(id, 'root.stages.0', 1, { summary: 's' }, result);
      expect(types(publisher.take()).sort()).toEqual(types(first).sort());
      expect((await workflows.view(id))?.timeline.length).toBe(timeline);
      expect(await stepOf(id, 'root.stages.1')).toMatchObject({ status: 'running', attempt: 1 });
    });

    it('another event ending an ended step changes and publishes nothing', async () => {
      const { id } = await begin(chainOfTwo);
      await engine.completeStep(id, 'root.stages.0', 1, { summary: 's' }, cause());
      publisher.take();
      await engine.completeStep(id, 'root.stages.0', 1, { summary: 'other' }, cause());
      expect(publisher.take()).toEqual([]);
      expect((await stepOf(id, 'root.stages.0'))?.output).toEqual({ summary: 's' });
    });

    it('of two events racing on one step (both read it running), the second is superseded: nothing of it is written or published', async () => {
      const { id } = await begin(chainOfTwo);
      publisher.take();
      const read = await workflows.snapshot(id, ['root.stages.0', 'root']);
      await engine.completeStep(id, 'root.stages.0', 1, { summary: 'first' }, cause(), read);
      publisher.take();
      await engine.completeStep(id, 'root.stages.0', 1, { summary: 'second' }, cause(), read);
      expect(publisher.take()).toEqual([]);
      expect((await stepOf(id, 'root.stages.0'))?.output).toEqual({ summary: 'first' });
    });

    it('a cancel that ended the workflow first supersedes the completion', async () => {
      const { id } = await begin({ kind: 'task', skill: 'keywords', input: doc('a', 'x') });
      const read = await workflows.snapshot(id, ['root']);
      publisher.take();
      await engine.cancel(id, 'cancelled: no longer needed', cause());
      const cancelled = publisher.take();
      expect(types(cancelled)).toEqual(['workflow.cancelled workflow.events']);
      expect(cancelled[0].data).toEqual({ reason: 'cancelled: no longer needed' });
      await engine.completeStep(id, 'root', 1, { keywords: [] }, cause(), read);
      expect(types(publisher.take())).toEqual(['step.completed workflow.events']);
      expect(await workflows.view(id)).toMatchObject({ status: 'cancelled', reason: 'cancelled: no longer needed' });
    });

    it('a cancel after the workflow ended publishes nothing and changes nothing', async () => {
      const { id } = await begin({ kind: 'task', skill: 'keywords', input: doc('a', 'x') });
      await engine.completeStep(id, 'root', 1, { keywords: [] }, cause());
      publisher.take();
      await engine.cancel(id, 'cancelled: too late', cause());
      expect(publisher.take()).toEqual([]);
      expect(await workflows.status(id)).toBe('completed');
    });
  });

  describe('deadlines', () => {
    const deadlineOf = (timer: Published) => timer.data as unknown as WorkflowDeadline;
    const task = (text = 'x') => ({ kind: 'task', skill: 'keywords', input: doc('a', text) });

    it('a workflow costs one timer, at its deadline (the configured default); steps without a tighter deadline add none', async () => {
      engine = new WorkflowEngine(workflows, publisher, createDefaultSkillRegistry(), { workflowDeadlineMs: 90_000 });
      const { id } = await begin({
        kind: 'supervisor',
        children: [task(), { ...task(), deadlineMs: 200_000 }, { kind: 'chain', stages: [{ step: task() }] }],
      });
      const timers = timersOf(publisher.take());
      expect(timers.map((t) => [t.data, t.deliverAfterMs])).toEqual([
        [{ scope: 'workflow', stepPath: 'root', attempt: 1, deadlineMs: 90_000 }, 90_000],
      ]);
      // Every step carries the deadline that applies to it: the workflow's, inherited.
      const steps = await workflows.steps(id);
      expect(new Set(steps.map((s) => s.deadlineAt)).size).toBe(1);
      const deadlineAt = Date.parse(steps[0].deadlineAt ?? '');
      expect(deadlineAt - Date.parse(steps[0].startedAt)).toBeGreaterThanOrEqual(89_000);
    });

    it("a step's own deadline, when tighter, adds one timer and applies to the steps under it", async () => {
      const { id } = await begin(
        {
          kind: 'chain',
          deadlineMs: 5_000,
          stages: [{ step: { ...task(), deadlineMs: 1_000 } }, { step: { ...task(), deadlineMs: 60_000 } }],
        },
        30_000,
      );
      const timers = timersOf(publisher.take()).map((t) => [
        deadlineOf(t).scope,
        deadlineOf(t).stepPath,
        t.deliverAfterMs,
      ]);
      expect(timers).toEqual([
        ['workflow', 'root', 30_000],
        ['step', 'root', 5_000],
        ['step', 'root.stages.0', 1_000],
      ]);
      // The second stage's 60 s is looser than the chain's 5 s: no timer, the chain's applies.
      await engine.completeStep(id, 'root.stages.0', 1, { keywords: [] }, cause());
      expect(timersOf(publisher.take())).toEqual([]);
      const [chain, second] = [await stepOf(id, 'root'), await stepOf(id, 'root.stages.1')];
      expect(second?.deadlineAt).toBe(chain?.deadlineAt);
    });

    it("past the workflow's deadline it ends timed-out naming the step that held it up, aborts its sagas, and a late result changes nothing", async () => {
      const saga = {
        kind: 'saga',
        steps: [
          {
            name: 'reserve',
            action: { skill: 'keywords', input: doc('a', 'x') },
            compensation: { skill: 'keywords', input: doc('a', 'undo') },
            deadlineMs: 1000,
          },
        ],
      };
      const { id } = await begin({
        kind: 'supervisor',
        children: [task(), { kind: 'chain', stages: [{ step: saga }] }],
      });
      const [timer] = timersOf(publisher.take());
      await engine.completeStep(id, 'root.children.0', 1, { keywords: [] }, cause());
      publisher.take();
      const fired = { id: uuidv7(), occurredAt: new Date().toISOString() };
      await engine.expire(id, deadlineOf(timer), fired);
      const events = publisher.take();
      expect(types(events)).toEqual(['workflow.timed-out workflow.events', 'saga.abort saga.commands']);
      expect(events[0].data).toEqual({
        reason: 'workflow deadline exceeded (3600000 ms): root.children.1.stages.0 (saga) was still running',
        stepPath: 'root.children.1.stages.0',
      });
      expect(events[1].data).toMatchObject({ stepPath: 'root.children.1.stages.0' });
      expect(await workflows.view(id)).toMatchObject({ status: 'timed-out', reason: events[0].data['reason'] });

      // The saga's compensation comes after: late, nothing changes.
      const late = cause();
      const read = await workflows.snapshot(id, ['root.children.1.stages.0', 'root.children.1']);
      expect(engine.isLate(read, 'root.children.1.stages.0', undefined, late)).toBe(true);
      await engine.failStep(id, 'root.children.1.stages.0', 1, 'aborted', late, { compensated: true });
      expect(publisher.take()).toEqual([]);
      expect(await workflows.view(id)).toMatchObject({ status: 'timed-out' });

      // The timer delivered again: its end is announced again, nothing else.
      await engine.expire(id, deadlineOf(timer), fired);
      expect(types(publisher.take())).toEqual(['workflow.timed-out workflow.events', 'saga.abort saga.commands']);
      // Another delivery of a deadline once the workflow ended: nothing.
      await engine.expire(id, deadlineOf(timer), cause());
      expect(publisher.take()).toEqual([]);
    });

    it('once a workflow ended, a step still running changes no more: its end is late', async () => {
      const { id } = await begin({ kind: 'supervisor', children: [task('a'), task('b')] });
      await engine.failStep(id, 'root.children.0', 1, 'broken', cause());
      expect(await workflows.status(id)).toBe('failed');
      publisher.take();
      const late = cause();
      expect(engine.isLate(await workflows.snapshot(id, ['root.children.1', 'root']), 'root.children.1', 1, late)).toBe(
        true,
      );
      await engine.completeStep(id, 'root.children.1', 1, { keywords: [] }, late);
      expect(publisher.take()).toEqual([]);
      expect(await stepOf(id, 'root.children.1')).toMatchObject({ status: 'running' });
    });

    it("a workflow that ended in time ignores its deadline's timer", async () => {
      const { id } = await begin(task());
      const [timer] = timersOf(publisher.take());
      await engine.completeStep(id, 'root', 1, { keywords: [] }, cause());
      publisher.take();
      await engine.expire(id, deadlineOf(timer), cause());
      expect(publisher.take()).toEqual([]);
      expect(await workflows.status(id)).toBe('completed');
    });

    const kinds: [string, object][] = [
      ['task', task()],
      ['fan-out', { kind: 'fan-out', skill: 'keywords', inputs: [doc('a', 'x')] }],
      ['supervisor', { kind: 'supervisor', children: [task()] }],
      ['chain', { kind: 'chain', stages: [{ step: task() }] }],
      [
        'solver-rounds',
        {
          kind: 'solver-rounds',
          skill: 'keywords',
          input: doc('a', 'x'),
          solvers: 2,
          rounds: 2,
          strategy: { type: 'all' },
        },
      ],
      [
        'blackboard',
        {
          kind: 'blackboard',
          board: 'ideas',
          seed: [{ kind: 'question', text: 'one' }],
          sources: [{ name: 'kw', skill: 'keywords', on: 'question', produces: 'answer' }],
          until: { kind: 'answer', count: 1 },
          maxEntries: 10,
        },
      ],
    ];

    it.each(kinds)(
      'a %s stage past its own deadline fails as its failure would: the chain and the workflow fail',
      async (_kind, step) => {
        const { id } = await begin({
          kind: 'chain',
          stages: [{ step: { ...step, deadlineMs: 500 } }, { step: task() }],
        });
        const timer = timersOf(publisher.take()).find((t) => deadlineOf(t).scope === 'step');
        expect(timer).toMatchObject({ deliverAfterMs: 500, data: { stepPath: 'root.stages.0', attempt: 1 } });
        await engine.expire(id, deadlineOf(timer as Published), cause());
        expect(types(publisher.take())).toEqual([
          'workflow.failed workflow.events',
          'step.failed workflow.events',
          'step.failed workflow.events',
        ]);
        expect(await stepOf(id, 'root.stages.0')).toMatchObject({
          status: 'failed',
          error: 'deadline exceeded (500 ms)',
        });
        expect(await workflows.view(id)).toMatchObject({
          status: 'failed',
          reason: 'root.stages.0 failed: deadline exceeded (500 ms)',
        });
        // The real end comes after: late, nothing changes.
        const late = cause();
        expect(engine.isLate(await workflows.snapshot(id, ['root.stages.0', 'root']), 'root.stages.0', 1, late)).toBe(
          true,
        );
        await engine.completeStep(id, 'root.stages.0', 1, { keywords: [] }, late);
        expect(publisher.take()).toEqual([]);
        expect(await stepOf(id, 'root.stages.0')).toMatchObject({ status: 'failed' });
      },
    );

    it('a market step past its own deadline is re-opened: a new attempt asks again, until its third attempt fails', async () => {
      const { id } = await begin({
        kind: 'chain',
        stages: [
          {
            step: {
              kind: 'market',
              skill: 'keywords',
              input: doc('a', 'x'),
              budget: 5,
              expireAfterMs: 1000,
              deadlineMs: 500,
            },
          },
        ],
      });
      let timer = timersOf(publisher.take()).find((t) => deadlineOf(t).scope === 'step');
      for (const attempt of [2, 3]) {
        await engine.expire(id, deadlineOf(timer as Published), cause());
        const reopened = publisher.take();
        expect(types(reopened)).toEqual(['market.ask market.asks', 'step.started workflow.events']);
        expect(reopened[0].data).toMatchObject({
          askId: `${id}:root.stages.0:attempt-${attempt}:ask-1`,
          attempt,
          budget: 5,
          bidWindowMs: 200,
        });
        expect(await stepOf(id, 'root.stages.0')).toMatchObject({ status: 'running', attempt });
        // the replaced attempt's result comes late: nothing changes
        await engine.completeStep(id, 'root.stages.0', attempt - 1, { keywords: [] }, cause());
        expect(publisher.take()).toEqual([]);
        timer = timersOf(reopened)[0];
        expect(deadlineOf(timer)).toMatchObject({ scope: 'step', stepPath: 'root.stages.0', attempt });
      }
      await engine.expire(id, deadlineOf(timer as Published), cause());
      expect(await workflows.view(id)).toMatchObject({
        status: 'failed',
        reason: 'root.stages.0 failed: deadline exceeded (500 ms)',
      });
    });

    it('a saga past its own deadline is aborted, so it compensates; its compensation ends the step', async () => {
      const { id } = await begin({
        kind: 'saga',
        deadlineMs: 2_000,
        steps: [
          {
            name: 'reserve',
            action: { skill: 'keywords', input: doc('a', 'x') },
            compensation: { skill: 'keywords', input: doc('a', 'undo') },
            deadlineMs: 1000,
          },
        ],
      });
      const timer = timersOf(publisher.take()).find((t) => deadlineOf(t).scope === 'step');
      await engine.expire(id, deadlineOf(timer as Published), cause());
      const aborted = publisher.take();
      expect(types(aborted)).toEqual(['saga.abort saga.commands']);
      expect(aborted[0].data).toEqual({ stepPath: 'root', reason: 'deadline exceeded (2000 ms)' });
      expect(await stepOf(id, 'root')).toMatchObject({ status: 'running' });
      await engine.failStep(id, 'root', 1, 'aborted: deadline exceeded (2000 ms)', cause(), { compensated: true });
      expect(await workflows.status(id)).toBe('compensated');
    });

    it("a step's deadline for an attempt that ended, or was replaced, does nothing", async () => {
      const { id } = await begin({
        kind: 'chain',
        stages: [
          {
            step: { ...task(), deadlineMs: 500 },
            gate: { checks: [{ field: 'keywords', op: 'min', value: 1 }], onFail: { action: 'retry', maxRetries: 2 } },
          },
        ],
      });
      const first = timersOf(publisher.take()).find((t) => deadlineOf(t).scope === 'step') as Published;
      await engine.completeStep(id, 'root.stages.0', 1, { keywords: [] }, cause()); // the gate retries: attempt 2
      const retried = publisher.take();
      await engine.expire(id, deadlineOf(first), cause());
      expect(publisher.take()).toEqual([]);
      expect(await stepOf(id, 'root.stages.0')).toMatchObject({ status: 'running', attempt: 2 });
      // The retry waits its backoff (delayed delivery), and its deadline counts from then.
      const [assigned] = retried.filter((e) => e.type === 'task.assigned');
      const second = timersOf(retried).find((t) => deadlineOf(t).scope === 'step') as Published;
      expect(assigned.deliverAfterMs).toBeGreaterThanOrEqual(250);
      expect(assigned.deliverAfterMs).toBeLessThanOrEqual(500);
      expect(second).toMatchObject({ data: { attempt: 2 }, deliverAfterMs: (assigned.deliverAfterMs ?? 0) + 500 });
    });

    it("a fan-out's branches past their deadline: one timer for them all; those without a result fail as their tasks", async () => {
      const { id } = await begin({
        kind: 'fan-out',
        skill: 'keywords',
        inputs: [doc('a', 'x'), doc('b', 'y'), doc('c', 'z')],
        policy: { type: 'quorum', k: 2 },
        branchDeadlineMs: 700,
      });
      const timers = timersOf(publisher.take()).filter((t) => deadlineOf(t).scope === 'branches');
      expect(timers.map((t) => [t.data, t.deliverAfterMs])).toEqual([
        [{ scope: 'branches', stepPath: 'root', attempt: 1, deadlineMs: 700, branches: [0, 1, 2] }, 700],
      ]);
      const entry = { at: new Date().toISOString(), type: 'task.completed', source: 'worker@w', stepPath: 'root' };
      const done = { stepPath: 'root', index: 1, inputId: 'b', status: 'completed' as const, attempt: 1 };
      await workflows.recordBranch(id, { taskId: `${id}:root:1:1`, eventId: uuidv7() }, done, entry);
      await engine.expire(id, deadlineOf(timers[0]), cause());
      const failed = publisher.take();
      expect(types(failed)).toEqual(['task.failed task.results', 'task.failed task.results']);
      expect(failed.map((e) => e.data)).toEqual(
        [0, 2].map((branch) =>
          expect.objectContaining({
            taskId: `${id}:root:${branch}:1`,
            branchIndex: branch,
            attempt: 1,
            stepPath: 'root',
            error: 'deadline exceeded (700 ms)',
          }),
        ),
      );
      // The fan-out itself goes on: its join (the aggregator) decides by its policy.
      expect(await stepOf(id, 'root')).toMatchObject({ status: 'running' });
    });

    it('retry-branch re-runs a branch after its backoff (delayed delivery), with a deadline for the re-run', async () => {
      const { id } = await begin({
        kind: 'fan-out',
        skill: 'keywords',
        inputs: [doc('a', 'x'), doc('b', 'y')],
        policy: { type: 'retry-branch', maxRetries: 3, backoff: { initialDelayMs: 1000, multiplier: 3, jitter: 0 } },
        branchDeadlineMs: 700,
      });
      const firstRun = publisher.take().find((e) => e.type === 'task.assigned' && e.data['branchIndex'] === 1);
      expect(firstRun?.data).toMatchObject({ taskId: `${id}:root:1:1`, workKey: `${id}:root:1`, attempt: 1 });
      await engine.assignBranches(id, 'root', [1], 3, cause());
      const events = publisher.take();
      // The second retry: 1000 × 3.
      expect(events.map((e) => [e.type, e.deliverAfterMs])).toEqual([
        ['task.assigned', 3000],
        ['workflow.deadline', 3700],
      ]);
      // A new task id for the attempt, the same work key: a skill's effect stays once across attempts.
      expect(events[0].data).toMatchObject({ taskId: `${id}:root:1:3`, workKey: `${id}:root:1`, attempt: 3 });
      expect(events[1].data).toMatchObject({ scope: 'branches', attempt: 3, branches: [1] });
    });
  });
});
