import type { TimelineEntry, WorkflowView } from '@agent-mesh/agents/orchestrator';
import { EnvelopeProperties, qualifyTopic, Topics, uuidv7 } from '@agent-mesh/contracts';
import { createDefaultSkillRegistry, type SkillRegistry } from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';
import { DyingStore } from '@agent-mesh/state/testing';
import {
  type AgentProcess,
  eventually,
  InProcessMesh,
  RedisFixture,
  startAgent,
  startAgents,
  WorkflowClient,
} from '@agent-mesh/testing';
import { AppendSkill, DraftSkill } from './support/test-skills';

/**
 * The orchestrator advances a chain in the handler of the task result that ends a stage (no
 * `step.completed` round trip). These tests kill it half-way through that handler — right after
 * one of its writes, before anything else — and check that the redelivered result finishes the
 * job on a successor, once: every stage's task runs once, nothing is left stuck.
 */

describe('an orchestrator killed while it advances a chain (real Redis)', () => {
  const redis = new RedisFixture();
  const mesh = new InProcessMesh();
  const append = new AppendSkill();
  const draft = new DraftSkill();
  const registry = (): SkillRegistry => createDefaultSkillRegistry().register(append).register(draft);

  beforeAll(async () => {
    await startAgents(mesh, ['aggregator', 'worker'], async () => ({
      stateStore: await redis.connect(),
      skills: registry(),
    }));
  });

  afterAll(async () => {
    await mesh.stopAll();
    await redis.cleanup();
  });

  const startOrchestrator = async (store?: StateStore): Promise<{ process: AgentProcess; client: WorkflowClient }> => {
    const process = await startAgent(mesh, {
      role: 'orchestrator',
      stateStore: store ?? (await redis.connect()),
      skills: registry(),
    });
    return { process, client: new WorkflowClient(process.url) };
  };

  const entries = (workflow: WorkflowView, type: string, stepPath?: string): TimelineEntry[] =>
    workflow.timeline.filter((e) => e.type === type && (stepPath === undefined || e.stepPath === stepPath));

  const appendChain = (tag: string) => ({
    kind: 'chain',
    stages: [
      { step: { kind: 'task', skill: 'append', input: { id: `${tag}-0`, text: tag }, params: { word: 'one' } } },
      {
        step: {
          kind: 'task',
          skill: 'append',
          inputFrom: { source: 'previous', field: 'text' },
          params: { word: 'two' },
        },
      },
      {
        step: {
          kind: 'task',
          skill: 'append',
          inputFrom: { source: 'previous', field: 'text' },
          params: { word: 'three' },
        },
      },
    ],
  });

  /**
   * Submits on a doomed orchestrator that dies after the write `marker` names, then lets a
   * successor finish; `until` says what else to wait for before the successor stops.
   */
  async function runThroughCrash(
    step: unknown,
    marker: RegExp,
    until?: (id: string) => Promise<unknown>,
  ): Promise<WorkflowView> {
    const store = new DyingStore(await redis.connect());
    store.dieAfterMarker(marker);
    const doomed = await startOrchestrator(store);
    const id = await doomed.client.submit({ step });
    await store.dead;
    await doomed.process.crash(); // unacked: the event it was handling goes back to the subscription
    const successor = await startOrchestrator();
    try {
      const workflow = await successor.client.finished(id);
      await until?.(id);
      return workflow;
    } finally {
      await successor.process.stop();
    }
  }

  it('dies right after recording a stage’s end: the redelivered result advances the chain, once', async () => {
    const workflow = await runThroughCrash(appendChain('alpha'), /:finish:[^:]+:root\.stages\.0:1$/);
    expect(workflow.status).toBe('completed');
    expect(workflow.result).toEqual({ text: 'alpha one two three', words: 4 });
    // each stage ran once: the stage the crash interrupted is not run again, and the next ones once
    expect(append.inputs.filter((t) => t.startsWith('alpha'))).toEqual(['alpha', 'alpha one', 'alpha one two']);
    expect(entries(workflow, 'step.completed', 'root.stages.0')).toHaveLength(1);
    expect(entries(workflow, 'task.assigned', 'root.stages.1')).toHaveLength(1);
    expect(entries(workflow, 'workflow.completed')).toHaveLength(1);
  });

  it('dies right after recording the next stage as started, before its task went out: the redelivery sends it', async () => {
    const workflow = await runThroughCrash(appendChain('beta'), /:start:[^:]+:root\.stages\.1:1$/);
    expect(workflow.status).toBe('completed');
    expect(workflow.result).toEqual({ text: 'beta one two three', words: 4 });
    expect(append.inputs.filter((t) => t.startsWith('beta'))).toEqual(['beta', 'beta one', 'beta one two']);
    expect(entries(workflow, 'step.started', 'root.stages.1')).toHaveLength(1);
  });

  it('dies right after restarting a stage its gate rejected: the redelivery runs the retry once', async () => {
    const step = {
      kind: 'chain',
      stages: [
        {
          step: { kind: 'task', skill: 'draft', input: { id: 'gamma', text: 'improves later' } },
          gate: { checks: [{ field: 'score', op: 'min', value: 5 }], onFail: { action: 'retry', maxRetries: 2 } },
        },
        {
          step: {
            kind: 'task',
            skill: 'append',
            inputFrom: { source: 'previous', field: 'text' },
            params: { word: 'done' },
          },
        },
      ],
    };
    const workflow = await runThroughCrash(step, /:start:[^:]+:root\.stages\.0:2$/);
    expect(workflow.status).toBe('completed');
    expect(workflow.result).toEqual({ text: 'improves later v2 done', words: 4 });
    expect(draft.calls.get('gamma')).toBe(2); // the rejected run and one retry, not two
    expect(workflow.steps.find((s) => s.path === 'root.stages.0')).toMatchObject({ status: 'completed', attempt: 2 });
    expect(entries(workflow, 'stage.failed', 'root.stages.0')).toHaveLength(1);
  });

  it('dies right after ending the workflow, before announcing it: the redelivery announces workflow.completed', async () => {
    const announced = (id: string) =>
      eventually('workflow.completed on workflow.events', async () => {
        const ends = (await mesh.readAll(Topics.workflowEvents)).filter(
          (m) => m.key === id && m.properties[EnvelopeProperties.eventType] === 'workflow.completed',
        );
        return ends.length > 0 ? ends : undefined;
      });
    const workflow = await runThroughCrash(appendChain('delta'), /:finished:[^:]+$/, announced);
    expect(workflow.status).toBe('completed');
    expect(entries(workflow, 'workflow.completed')).toHaveLength(1);
  });

  /** The task.assigned messages of one workflow's step on tasks.append: what the workers were sent. */
  const assignedOn = async (id: string, stepPath: string) =>
    (await mesh.readAll(Topics.tasks('append'))).filter(
      (m) => m.key === id && String(m.payload).includes(`"stepPath":"${stepPath}"`),
    );

  it('dies on submit between accepting the workflow and starting it: workflow.submitted starts it on the successor, once', async () => {
    // The submitting process records its begin, then dies before the root step is started.
    const workflow = await runThroughCrash(appendChain('zeta'), /:begin:[^:]+$/);
    expect(workflow.status).toBe('completed');
    expect(workflow.result).toEqual({ text: 'zeta one two three', words: 4 });
    expect(append.inputs.filter((t) => t.startsWith('zeta'))).toEqual(['zeta', 'zeta one', 'zeta one two']);
    expect(entries(workflow, 'workflow.submitted')).toHaveLength(1);
    expect(entries(workflow, 'step.started', 'root')).toHaveLength(1);
    expect(await assignedOn(workflow.id, 'root.stages.0')).toHaveLength(1);
  });

  it('dies on submit right after recording the first stage as started, before its task went out: workflow.submitted sends it', async () => {
    const workflow = await runThroughCrash(appendChain('eta'), /:start:[^:]+:root\.stages\.0:1$/);
    expect(workflow.status).toBe('completed');
    expect(workflow.result).toEqual({ text: 'eta one two three', words: 4 });
    expect(append.inputs.filter((t) => t.startsWith('eta'))).toEqual(['eta', 'eta one', 'eta one two']);
    expect(entries(workflow, 'step.started', 'root.stages.0')).toHaveLength(1);
    expect(await assignedOn(workflow.id, 'root.stages.0')).toHaveLength(1);
  });

  it('started on submit, workflow.submitted assigns nothing again — on the same orchestrator or on another one', async () => {
    // Two orchestrators share the Key_Shared subscription: some workflows' events go to the one
    // that did not accept them, which must neither start them again nor wait forever.
    const first = await startOrchestrator();
    const second = await startOrchestrator();
    try {
      const ids = await Promise.all(
        ['theta', 'iota', 'kappa', 'lambda', 'mu', 'nu'].map((tag) => first.client.submit({ step: appendChain(tag) })),
      );
      const workflows = await Promise.all(ids.map((id) => first.client.finished(id)));
      for (const workflow of workflows) {
        expect(workflow.status).toBe('completed');
        expect(await assignedOn(workflow.id, 'root.stages.0')).toHaveLength(1);
        expect(entries(workflow, 'task.completed')).toHaveLength(3);
      }
      for (const tag of ['theta', 'iota', 'kappa', 'lambda', 'mu', 'nu']) {
        expect(append.inputs.filter((t) => t.split(' ')[0] === tag)).toEqual([tag, `${tag} one`, `${tag} one two`]);
      }
      // Every workflow.submitted is acknowledged (a waiting one is redelivered a second later).
      await eventually('workflow.submitted acknowledged', async () =>
        mesh.broker.backlog(qualifyTopic(mesh.naming, Topics.workflowEvents), 'orchestrator') === 0 ? true : undefined,
      );
    } finally {
      await Promise.all([first.process.stop(), second.process.stop()]);
    }
  });

  it('a duplicate task result (same task, another event) changes nothing', async () => {
    const { process, client } = await startOrchestrator();
    try {
      const workflow = await client.run({ step: appendChain('epsilon') });
      expect(workflow.status).toBe('completed');
      const results = await mesh.readAll(Topics.taskResults);
      const first = results.find((m) => m.key === workflow.id && String(m.payload).includes('"root.stages.0"'));
      if (!first) throw new Error('no result of stage 0 on task.results');
      const copy = { ...(JSON.parse(String(first.payload)) as Record<string, unknown>), id: uuidv7() };
      await mesh.publishRaw(Topics.taskResults, JSON.stringify(copy), workflow.id);
      await client.timeline(workflow.id, 'task.completed', 4);
      const after = await client.get(workflow.id);
      expect(append.inputs.filter((t) => t.startsWith('epsilon'))).toEqual([
        'epsilon',
        'epsilon one',
        'epsilon one two',
      ]);
      expect(entries(after, 'task.assigned')).toHaveLength(3);
      expect(entries(after, 'step.started')).toHaveLength(4);
      expect(after.steps.map((s) => [s.path, s.status, s.attempt])).toEqual(
        workflow.steps.map((s) => [s.path, s.status, s.attempt]),
      );
    } finally {
      await process.stop();
    }
  });
});
