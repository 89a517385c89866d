import type { StepState, TimelineEntry, WorkflowView } from '@agent-mesh/agents/orchestrator';
import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import {
  createDefaultSkillRegistry,
  SkillInputError,
  type Skill,
  type SkillContext,
  type SkillInput,
  type SkillOutput,
  type SkillRegistry,
} from '@agent-mesh/skills';
import { type AgentProcess, InProcessMesh, PulsarNamespace, startAgents, WORKFLOW_ROLES, WorkflowClient } from '@agent-mesh/testing';
import { AppendSkill, FixSkill, sleep, sumWords, wordCount, type Outputs } from './support/test-skills';

/*
 * The workflow engine's patterns on the real broker: the same agent modules as the memory-bus
 * suite (patterns.e2e.spec.ts), each its own Nest app with its own pulsar-ws connection, in a
 * namespace of their own. MeshRuntimeModule's env override selects the transport; the harness's
 * memory broker is passed too and must be ignored (connectEventBus uses it for memory only).
 */

/** Word count; "broken …" inputs fail (bad input, not retried by the worker); "hang …" waits for release. */
class CountSkill implements Skill {
  readonly name = 'count';
  readonly description = 'word count (test)';
  readonly hanging = new Set<string>();
  released = false;
  calls = 0;
  private open!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));
  async run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    this.calls++;
    if (input.text.startsWith('broken')) throw new SkillInputError(this.name, `input ${input.id} is broken`);
    if (input.text.startsWith('hang')) {
      this.hanging.add(input.id);
      await Promise.race([
        this.gate,
        new Promise<never>((_, reject) => context.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true })),
      ]);
    }
    return { words: wordCount(input.text) };
  }
  release(): void {
    this.released = true;
    this.open();
  }
  combine(outputs: Outputs): SkillOutput {
    return sumWords(outputs);
  }
}

/** A draft always scored 1: the gate rejects it. */
class DraftSkill implements Skill {
  readonly name = 'draft';
  readonly description = 'a draft the gate rejects (test)';
  calls = 0;
  async run(input: SkillInput): Promise<SkillOutput> {
    this.calls++;
    return { text: `${input.text} v${this.calls}`, score: 1 };
  }
  combine(outputs: Outputs): SkillOutput {
    return { texts: outputs.map((o) => o.output['text']) };
  }
}

const count = new CountSkill();
const draft = new DraftSkill();
const fix = new FixSkill();
const append = new AppendSkill();

function registry(): SkillRegistry {
  const skills = createDefaultSkillRegistry();
  for (const skill of [count, draft, fix, append]) skills.register(skill);
  return skills;
}

const doc = (id: string, text: string) => ({ id, text });

describeWithPulsar('workflow patterns on a real Pulsar broker (pulsar-ws)', (env) => {
  const namespace = new PulsarNamespace(env, 'patterns');
  const mesh = new InProcessMesh();
  const agents: AgentProcess[] = [];
  let client: WorkflowClient;

  beforeAll(async () => {
    await assertPulsarAnswers(env);
    await namespace.create();
    agents.push(
      ...(await startAgents(mesh, WORKFLOW_ROLES, () => ({
        skills: registry(),
        // PULSAR_SERVICE_URL blank: never the native driver, whatever the environment says
        env: { ...namespace.meshEnv(), PULSAR_SERVICE_URL: '' },
      }))),
    );
    const [orchestrator] = agents;
    client = new WorkflowClient(orchestrator.url, { timeoutMs: 30_000 });
  }, 60_000);

  afterAll(async () => {
    count.release();
    await sleep(200);
    await mesh.stopAll();
    await namespace.delete();
  }, 60_000);

  const run = (step: unknown): Promise<WorkflowView> => client.run({ step });

  const stepAt = (workflow: WorkflowView, path: string): StepState | undefined => workflow.steps.find((s) => s.path === path);
  const entries = (workflow: WorkflowView, type: string, stepPath?: string): TimelineEntry[] =>
    workflow.timeline.filter((e) => e.type === type && (stepPath === undefined || e.stepPath === stepPath));

  it('runs every agent on the pulsar-ws driver, not on the harness’s memory broker', async () => {
    for (const agent of agents) {
      const health = (await (await fetch(`${agent.url}/health`)).json()) as { status: string; role: string; transport: string };
      expect(health).toMatchObject({ status: 'ok', role: agent.role, transport: 'pulsar-ws' });
    }
  });

  it('chain: a gate rejects a stage, the recovery runs on the rejected output and feeds the next stage', async () => {
    const workflow = await run({
      kind: 'chain',
      stages: [
        {
          step: { kind: 'task', skill: 'draft', input: doc('p-ch', 'rough') },
          gate: {
            checks: [{ field: 'score', op: 'min', value: 5 }],
            onFail: { action: 'recover', recovery: { kind: 'task', skill: 'fix', inputFrom: { source: 'previous', field: 'text' } } },
          },
        },
        { step: { kind: 'task', skill: 'append', inputFrom: { source: 'previous', field: 'text' }, params: { word: 'shipped' } } },
      ],
    });
    expect(workflow.status).toBe('completed');
    // draft "rough v1" (score 1 < 5) → fix "fixed(rough v1)" → append → "fixed(rough v1) shipped"
    // (3 whitespace-separated words: "fixed(rough", "v1)", "shipped")
    expect(fix.inputs).toEqual(['rough v1']);
    expect(append.inputs).toEqual(['fixed(rough v1)']);
    expect(workflow.result).toEqual({ text: 'fixed(rough v1) shipped', words: 3 });
    expect(stepAt(workflow, 'root.stages.0.recovery')?.status).toBe('completed');
    expect(entries(workflow, 'stage.failed', 'root.stages.0').map((e) => e.detail?.split(':')[0])).toEqual(['recover']);
  }, 60_000);

  it('fan-out quorum 3 of 5 completes while 2 branches hang', async () => {
    const workflow = await run({
      kind: 'fan-out',
      skill: 'count',
      inputs: [doc('pq-0', 'one'), doc('pq-1', 'hang here'), doc('pq-2', 'two words'), doc('pq-3', 'hang there'), doc('pq-4', 'three more words')],
      policy: { type: 'quorum', k: 3 },
    });
    expect(workflow.status).toBe('completed');
    // branches 0, 2, 4: 1 + 2 + 3 words
    expect(workflow.result).toEqual({ words: 6, inputs: ['pq-0', 'pq-2', 'pq-4'] });
    expect(count.released).toBe(false);
    expect([...count.hanging].sort()).toEqual(['pq-1', 'pq-3']);
  }, 60_000);

  it('supervisor tree of 3 levels rolls up level by level', async () => {
    // root → mid-0..2, each with 4 leaves; leaf l of mid m has m + l + 1 words.
    // mid m: Σ_{l<4} (m + l + 1) = 4m + 10 → 10, 14, 18; root: 42
    const leafName = (m: number, l: number) => `leaf-${m}-${l}`;
    const workflow = await run({
      kind: 'supervisor',
      children: [0, 1, 2].map((m) => ({
        kind: 'supervisor',
        name: `mid-${m}`,
        children: [0, 1, 2, 3].map((l) => ({
          kind: 'task',
          name: leafName(m, l),
          skill: 'count',
          input: doc(leafName(m, l), Array.from({ length: m + l + 1 }, (_, w) => `w${w}`).join(' ')),
        })),
      })),
    });
    expect(workflow.status).toBe('completed');
    expect(workflow.result).toEqual({ words: 42, inputs: ['mid-0', 'mid-1', 'mid-2'] });
    [10, 14, 18].forEach((words, m) => {
      expect(stepAt(workflow, `root.children.${m}`)?.output).toEqual({ words, inputs: [0, 1, 2, 3].map((l) => leafName(m, l)) });
    });
    expect(workflow.steps).toHaveLength(1 + 3 + 12);
  }, 60_000);

  it('a failing fan-out (fail-fast) fails the workflow, naming the bad input', async () => {
    const workflow = await run({
      kind: 'fan-out',
      skill: 'count',
      inputs: [doc('pf-0', 'fine'), doc('pf-bad', 'broken input'), doc('pf-2', 'also fine')],
      policy: { type: 'fail-fast' },
    });
    expect(workflow.status).toBe('failed');
    expect(workflow.reason).toContain('pf-bad');
    expect(workflow.reason).not.toContain('pf-0');
    expect(entries(workflow, 'fanout.failed', 'root')).toHaveLength(1);
  }, 60_000);
});
