import type { StepState, TimelineEntry, WorkflowView } from '@agent-mesh/agents/orchestrator';
import { createDefaultSkillRegistry, type SkillOutput, type SkillRegistry } from '@agent-mesh/skills';
import { eventually, type AgentProcess, type WorkflowClient } from '@agent-mesh/testing';
import {
  AppendSkill,
  CountSkill,
  DraftSkill,
  FixSkill,
  FlakySkill,
  HangSkill,
  LabelSkill,
  PlanSkill,
  RankSkill,
  ScoreJudgeSkill,
  SinkSkill,
  sleep,
  sumWords,
  UnservedSkill,
} from './test-skills';

/*
 * Every coordination pattern of the workflow engine (docs/patterns.md) as one table of scenarios,
 * written once and run on each mesh: patterns.e2e.spec.ts (memory broker) and
 * patterns.pulsar.spec.ts (the real broker). An orchestrator, an aggregator and two workers run
 * as separate "processes", driven over HTTP only. The skills are test skills with outputs simple
 * enough to compute by hand; every expected value below is written down from that hand computation.
 * Scenarios share the skills' records (calls, inputs), so each uses input ids of its own.
 */

/** The test skills of the scenarios: one instance each, shared by every process of a mesh. */
export class PatternSkills {
  readonly count = new CountSkill();
  readonly flaky = new FlakySkill();
  readonly hang = new HangSkill();
  readonly label = new LabelSkill();
  readonly rank = new RankSkill();
  readonly append = new AppendSkill();
  readonly draft = new DraftSkill();
  readonly fix = new FixSkill();
  readonly sink = new SinkSkill();
  readonly unserved = new UnservedSkill();
  readonly plan = new PlanSkill();
  readonly judge = new ScoreJudgeSkill();

  /**
   * Each process gets its own registry (like separate processes), holding the same test skills;
   * `unserved` only where no worker runs (a skill known to the API that no worker serves).
   */
  registry(role?: string): SkillRegistry {
    const skills = createDefaultSkillRegistry();
    for (const skill of [
      this.count,
      this.flaky,
      this.hang,
      this.label,
      this.rank,
      this.append,
      this.draft,
      this.fix,
      this.sink,
      this.plan,
      this.judge,
    ]) {
      skills.register(skill);
    }
    if (role !== 'worker') skills.register(this.unserved);
    return skills;
  }

  /** How far the skills' records had got: a scenario checks what it added since. */
  tally(): SkillTally {
    return {
      countCalls: this.count.calls,
      appendInputs: this.append.inputs.length,
      fixInputs: this.fix.inputs.length,
      sinkInputs: this.sink.inputs.length,
    };
  }
}

export interface SkillTally {
  readonly countCalls: number;
  readonly appendInputs: number;
  readonly fixInputs: number;
  readonly sinkInputs: number;
}

/** What a scenario sees of the mesh it runs on. */
export interface PatternMesh {
  readonly client: WorkflowClient;
  readonly skills: PatternSkills;
  readonly agents: readonly AgentProcess[];
  /** The bus driver every agent reports on /health. */
  readonly transport: string;
  /** How long "nothing more happens" is watched for (a late delivery would show by then). */
  readonly quietMs: number;
  /** How long a workflow, or a projection catching up, may take at least. */
  readonly waitMs: number;
}

/** A workflow submitted, then checked once it has finished. */
interface WorkflowScenario {
  readonly name: string;
  readonly step: object;
  readonly workflowName?: string;
  /** The workflow's deadline. */
  readonly deadlineMs?: number;
  /** How long the workflow may take (at least; the mesh's waitMs when longer). */
  readonly finishWithinMs?: number;
  check(workflow: WorkflowView, mesh: PatternMesh, before: SkillTally): Promise<void> | void;
}

/** A scenario that drives the HTTP API itself. */
interface DrivenScenario {
  readonly name: string;
  drive(mesh: PatternMesh): Promise<void>;
}

export type PatternScenario = WorkflowScenario | DrivenScenario;

export interface ScenarioGroup {
  /** The describe block of the group; none for top-level scenarios. */
  readonly title?: string;
  readonly scenarios: readonly PatternScenario[];
}

const doc = (id: string, text: string) => ({ id, text });

const TERMINAL_TYPES = [
  'workflow.completed',
  'workflow.failed',
  'workflow.compensated',
  'workflow.cancelled',
  'workflow.timed-out',
];
/** The terminal events on a workflow's timeline. */
export const terminalEvents = (workflow: { readonly timeline: readonly { readonly type: string }[] }): string[] =>
  workflow.timeline.filter((e) => TERMINAL_TYPES.includes(e.type)).map((e) => e.type);

function stepAt(workflow: WorkflowView, path: string): StepState {
  const found = workflow.steps.find((s) => s.path === path);
  if (!found) throw new Error(`no step ${path} in ${workflow.steps.map((s) => s.path).join(', ')}`);
  return found;
}

function entries(workflow: WorkflowView, type: string, stepPath?: string): TimelineEntry[] {
  return workflow.timeline.filter((e) => e.type === type && (stepPath === undefined || e.stepPath === stepPath));
}

/** Runs one scenario on a mesh. */
export async function playScenario(scenario: PatternScenario, mesh: PatternMesh): Promise<void> {
  if ('drive' in scenario) return scenario.drive(mesh);
  const before = mesh.skills.tally();
  const id = await mesh.client.submit({
    name: scenario.workflowName,
    deadlineMs: scenario.deadlineMs,
    step: scenario.step,
  });
  const workflow = await mesh.client.finished(id, Math.max(scenario.finishWithinMs ?? 0, mesh.waitMs));
  await scenario.check(workflow, mesh, before);
}

/** One Jest test per scenario, in table order, grouped as the table groups them. */
export function describePatternScenarios(mesh: () => PatternMesh): void {
  for (const group of PATTERN_SCENARIOS) {
    const tests = () => group.scenarios.forEach((scenario) => it(scenario.name, () => playScenario(scenario, mesh())));
    if (group.title) describe(group.title, tests);
    else tests();
  }
}

const transport: DrivenScenario = {
  name: 'every agent runs on the mesh’s bus driver (its /health says which)',
  async drive({ agents, transport }) {
    expect(agents.map((a) => a.role).sort()).toEqual(['aggregator', 'orchestrator', 'worker', 'worker']);
    for (const agent of agents) {
      const health = (await (await fetch(`${agent.url}/health`)).json()) as {
        status: string;
        role: string;
        transport: string;
      };
      expect(health).toMatchObject({ status: 'ok', role: agent.role, transport });
    }
  },
};

const task: WorkflowScenario = {
  name: 'task: a single task step completes with the skill’s output',
  step: { kind: 'task', skill: 'append', input: doc('t-1', 'red green'), params: { word: 'blue' } },
  check(workflow) {
    expect(workflow.status).toBe('completed');
    // "red green" + " blue" → "red green blue", 3 words
    expect(workflow.result).toEqual({ text: 'red green blue', words: 3 });
    expect(workflow.steps).toHaveLength(1);
    expect(workflow.steps[0]).toMatchObject({
      path: 'root',
      kind: 'task',
      status: 'completed',
      attempt: 1,
      output: { text: 'red green blue', words: 3 },
    });
    expect(entries(workflow, 'task.assigned', 'root')).toHaveLength(1);
    expect(entries(workflow, 'workflow.completed')).toHaveLength(1);
  },
};

const failurePolicies: PatternScenario[] = [
  {
    name: 'fail-fast: one bad input fails the workflow, and the reason names it',
    step: {
      kind: 'fan-out',
      skill: 'flaky',
      inputs: [doc('ff-good-1', 'one two'), doc('ff-rotten', 'broken input'), doc('ff-good-2', 'three')],
      policy: { type: 'fail-fast' },
    },
    check(workflow) {
      expect(workflow.status).toBe('failed');
      expect(workflow.reason).toContain('ff-rotten');
      expect(workflow.reason).toContain('fail-fast');
      expect(workflow.reason).not.toContain('ff-good');
      expect(stepAt(workflow, 'root')).toMatchObject({ status: 'failed' });
      expect(entries(workflow, 'fanout.failed', 'root')).toHaveLength(1);
      expect(entries(workflow, 'fanout.completed')).toHaveLength(0);
    },
  },
  {
    name: 'retry-branch: a branch failing its first attempt is re-run, and the workflow completes',
    step: {
      kind: 'fan-out',
      skill: 'flaky',
      inputs: [doc('rb-a', 'alpha beta'), doc('rb-b', 'flaky gamma delta epsilon'), doc('rb-c', 'zeta')],
      policy: { type: 'retry-branch', maxRetries: 2 },
    },
    check(workflow, { skills }) {
      expect(workflow.status).toBe('completed');
      // 2 + 4 + 1 words, in branch order
      expect(workflow.result).toEqual({ words: 7, inputs: ['rb-a', 'rb-b', 'rb-c'] });
      expect(skills.flaky.calls.get('rb-a')).toBe(1);
      expect(skills.flaky.calls.get('rb-b')).toBe(2);
      expect(skills.flaky.calls.get('rb-c')).toBe(1);
      expect(entries(workflow, 'fanout.retry', 'root').map((e) => e.detail)).toEqual(['branches 1 attempt 2']);
      // The fan-out ends only once the results it used are projected: the retry's too, not
      // its failed first attempt, so the completed workflow shows (and counts) all three.
      expect(workflow.branches.map((b) => [b.index, b.status, b.attempt])).toEqual([
        [0, 'completed', 1],
        [1, 'completed', 2],
        [2, 'completed', 1],
      ]);
    },
  },
  {
    name: 'retry-branch is bounded: a branch that always fails fails the workflow after maxRetries + 1 attempts',
    step: {
      kind: 'fan-out',
      skill: 'flaky',
      inputs: [doc('rbx-ok', 'fine words'), doc('rbx-bad', 'broken forever')],
      policy: { type: 'retry-branch', maxRetries: 2 },
    },
    async check(workflow, { skills, quietMs }) {
      expect(workflow.status).toBe('failed');
      expect(workflow.reason).toContain('rbx-bad');
      expect(workflow.reason).toContain('3 attempts');
      // maxRetries 2 → attempts 1, 2, 3; never a fourth
      await sleep(quietMs);
      expect(skills.flaky.calls.get('rbx-bad')).toBe(3);
      expect(entries(workflow, 'fanout.retry', 'root').map((e) => e.detail)).toEqual([
        'branches 1 attempt 2',
        'branches 1 attempt 3',
      ]);
    },
  },
  {
    name: 'proceed-with-partial: 1 of 3 fails, the workflow completes from the 2 good ones',
    step: {
      kind: 'fan-out',
      skill: 'flaky',
      inputs: [doc('pp-0', 'a b c'), doc('pp-1', 'broken d e'), doc('pp-2', 'f g')],
      policy: { type: 'proceed-with-partial' },
    },
    check(workflow, { skills }) {
      expect(workflow.status).toBe('completed');
      // branches 0 and 2: 3 + 2 words
      expect(workflow.result).toEqual({ words: 5, inputs: ['pp-0', 'pp-2'] });
      expect(entries(workflow, 'fanout.completed', 'root').map((e) => e.detail)).toEqual(['used branches 0,2']);
      expect(skills.flaky.calls.get('pp-1')).toBe(1); // bad input: not retried
    },
  },
  {
    name: 'quorum 3 of 5 completes when 3 branches succeed while 2 hang',
    step: {
      kind: 'fan-out',
      skill: 'hang',
      inputs: [
        doc('q-0', 'one'),
        doc('q-1', 'hang one two'),
        doc('q-2', 'two words'),
        doc('q-3', 'hang x'),
        doc('q-4', 'three more words'),
      ],
      policy: { type: 'quorum', k: 3 },
    },
    async check(workflow, { client, skills, waitMs }) {
      expect(workflow.status).toBe('completed');
      // branches 0, 2, 4: 1 + 2 + 3 words
      expect(workflow.result).toEqual({ words: 6, inputs: ['q-0', 'q-2', 'q-4'] });
      expect(entries(workflow, 'fanout.completed', 'root').map((e) => e.detail)).toEqual(['used branches 0,2,4']);
      // the two hanging branches were running, are still running, and were not waited for
      expect([...skills.hang.hanging].filter((h) => h.startsWith('q-')).sort()).toEqual(['q-1', 'q-3']);
      expect(skills.hang.released).toBe(false);
      // the branch projection follows task.results on its own subscription: wait for the 3 results
      const pending = await eventually(
        'branches 0, 2 and 4 completed in the projection',
        async () => {
          const found = (await client.get(workflow.id)).branches
            .filter((b) => b.status === 'pending')
            .map((b) => b.index);
          return found.length <= 2 ? found : undefined;
        },
        waitMs,
      );
      expect(pending).toEqual([1, 3]);
    },
  },
  {
    name: 'quorum out of reach fails the workflow',
    step: {
      kind: 'fan-out',
      skill: 'flaky',
      inputs: [
        doc('qx-0', 'ok'),
        doc('qx-1', 'broken'),
        doc('qx-2', 'broken'),
        doc('qx-3', 'ok too'),
        doc('qx-4', 'broken'),
      ],
      policy: { type: 'quorum', k: 3 },
    },
    check(workflow) {
      expect(workflow.status).toBe('failed');
      expect(workflow.reason).toContain('quorum');
      expect(workflow.reason).toContain('k=3');
      expect(workflow.result).toBeUndefined();
    },
  },
];

// score = Σ 1/(60 + rank):
//   a: ranks 1, 2, 3 → 1/61 + 1/62 + 1/63 ≈ 0.0483955
//   b: ranks 2, 1, 2 → 1/61 + 2/62        ≈ 0.0486515
//   c: ranks 3, -, 1 → 1/61 + 1/63        ≈ 0.0322665
//   d: ranks -, 3, - → 1/63               ≈ 0.0158730
const FUSED = [
  { id: 'b', score: 1 / 61 + 2 / 62 },
  { id: 'a', score: 1 / 61 + 1 / 62 + 1 / 63 },
  { id: 'c', score: 1 / 61 + 1 / 63 },
  { id: 'd', score: 1 / 63 },
];

const strategies: PatternScenario[] = [
  {
    name: 'majority-vote: 3 × cat, 2 × dog → cat wins with its votes',
    step: {
      kind: 'fan-out',
      skill: 'label',
      inputs: ['cat', 'dog', 'cat', 'dog', 'cat'].map((text, i) => doc(`mv-${i}`, text)),
      strategy: { type: 'majority-vote', field: 'label' },
    },
    check(workflow) {
      expect(workflow.status).toBe('completed');
      // votes are keyed by the canonical JSON of the value
      expect(workflow.result).toEqual({
        type: 'majority-vote',
        winner: 'cat',
        votes: { '"cat"': 3, '"dog"': 2 },
        total: 5,
        abstained: 0,
      });
    },
  },
  {
    name: 'ranked-fusion: [a,b,c], [b,a,d], [c,b,a] with k=60 → b, a, c, d',
    step: {
      kind: 'fan-out',
      skill: 'rank',
      inputs: [doc('rf-0', 'a,b,c'), doc('rf-1', 'b,a,d'), doc('rf-2', 'c,b,a')],
      strategy: { type: 'ranked-fusion', field: 'ranking', k: 60 },
    },
    check(workflow) {
      expect(workflow.status).toBe('completed');
      const result = workflow.result as { type: string; ranking: { id: string; score: number }[] };
      expect(result.type).toBe('ranked-fusion');
      expect(result.ranking.map((r) => r.id)).toEqual(['b', 'a', 'c', 'd']);
      expect(result.ranking).toHaveLength(4);
      result.ranking.forEach((r, i) => expect(r.score).toBeCloseTo(FUSED[i].score, 12));
    },
  },
  {
    name: 'last-writer-wins: the branch that completed last wins, whatever its index',
    // branch 0 answers after 600 ms, branch 1 at once, branch 2 after 150 ms: arrival 1, 2, 0
    step: {
      kind: 'fan-out',
      skill: 'label',
      inputs: [doc('lw-0', 'slowest after 600'), doc('lw-1', 'fastest'), doc('lw-2', 'middle after 150')],
      strategy: { type: 'last-writer-wins' },
    },
    check(workflow) {
      expect(workflow.status).toBe('completed');
      const result = workflow.result as {
        type: string;
        winner?: { branchIndex: number; inputId?: string; output: SkillOutput };
      };
      expect(result.type).toBe('last-writer-wins');
      expect(result.winner).toMatchObject({ branchIndex: 0, inputId: 'lw-0', output: { label: 'slowest' } });
    },
  },
  {
    name: 'all: every output, in branch order',
    step: {
      kind: 'fan-out',
      skill: 'label',
      inputs: [doc('all-0', 'x after 100'), doc('all-1', 'y'), doc('all-2', 'z after 50')],
      strategy: { type: 'all' },
    },
    check(workflow) {
      expect(workflow.status).toBe('completed');
      expect(workflow.result).toEqual({
        type: 'all',
        outputs: [
          { branchIndex: 0, inputId: 'all-0', output: { label: 'x' } },
          { branchIndex: 1, inputId: 'all-1', output: { label: 'y' } },
          { branchIndex: 2, inputId: 'all-2', output: { label: 'z' } },
        ],
      });
    },
  },
];

const appendStage = (word: string) => ({
  step: { kind: 'task', skill: 'append', inputFrom: { source: 'previous', field: 'text' }, params: { word } },
});
const sinkStage = { step: { kind: 'task', skill: 'sink', inputFrom: { source: 'previous', field: 'text' } } };

const chainGates: PatternScenario[] = [
  {
    // A backtracking RegExp would take 2^5000 steps here and stall every workflow of the orchestrator.
    name: 'a catastrophic gate pattern runs in linear time (RE2): the gate fails at once',
    step: {
      kind: 'chain',
      stages: [
        {
          step: { kind: 'task', skill: 'append', input: doc('re-0', 'a'.repeat(5_000)), params: { word: '!' } },
          gate: { checks: [{ field: 'text', op: 'matches', value: '(a+)+$' }], onFail: { action: 'fail' } },
        },
        sinkStage,
      ],
    },
    check(workflow) {
      expect(workflow.status).toBe('failed');
      expect(workflow.reason).toMatch(/does not match \/\(a\+\)\+\$\//);
      expect(entries(workflow, 'stage.failed', 'root.stages.0')).toHaveLength(1);
    },
  },
  {
    name: 'runs 3 stages, each from the previous output; passing gates publish stage.validated',
    step: {
      kind: 'chain',
      stages: [
        {
          step: { kind: 'task', skill: 'append', input: doc('ch-0', 'one two'), params: { word: 'three' } },
          gate: { checks: [{ field: 'words', op: 'min', value: 3 }], onFail: { action: 'fail' } },
        },
        {
          ...appendStage('four'),
          gate: {
            checks: [{ field: 'text', op: 'matches', value: '^one two three four$' }],
            onFail: { action: 'fail' },
          },
        },
        appendStage('five'),
      ],
    },
    check(workflow) {
      expect(workflow.status).toBe('completed');
      // "one two" → "one two three" → "one two three four" → "one two three four five"
      expect(stepAt(workflow, 'root.stages.0').output).toEqual({ text: 'one two three', words: 3 });
      expect(stepAt(workflow, 'root.stages.1').output).toEqual({ text: 'one two three four', words: 4 });
      expect(stepAt(workflow, 'root.stages.2').output).toEqual({ text: 'one two three four five', words: 5 });
      expect(workflow.result).toEqual({ text: 'one two three four five', words: 5 });
      expect(stepAt(workflow, 'root')).toMatchObject({
        kind: 'chain',
        status: 'completed',
        output: { text: 'one two three four five', words: 5 },
      });
      expect(entries(workflow, 'stage.validated').map((e) => e.stepPath)).toEqual(['root.stages.0', 'root.stages.1']);
      expect(entries(workflow, 'stage.failed')).toHaveLength(0);
      // each stage started only after the one before it completed
      const at = (type: string, path: string) =>
        workflow.timeline.findIndex((e) => e.type === type && e.stepPath === path);
      expect(at('step.completed', 'root.stages.0')).toBeLessThan(at('step.started', 'root.stages.1'));
      expect(at('step.completed', 'root.stages.1')).toBeLessThan(at('step.started', 'root.stages.2'));
    },
  },
  {
    name: 'gate fails with onFail retry: the stage runs again and the chain continues from the good output',
    step: {
      kind: 'chain',
      stages: [
        {
          step: { kind: 'task', skill: 'draft', input: doc('gr-1', 'improves slowly') },
          gate: { checks: [{ field: 'score', op: 'min', value: 5 }], onFail: { action: 'retry', maxRetries: 2 } },
        },
        appendStage('done'),
      ],
    },
    check(workflow, { skills }) {
      expect(workflow.status).toBe('completed');
      // run 1: "improves slowly v1", score 1 → rejected; run 2: "improves slowly v2", score 9 → passes
      expect(skills.draft.calls.get('gr-1')).toBe(2);
      expect(stepAt(workflow, 'root.stages.0')).toMatchObject({
        status: 'completed',
        attempt: 2,
        output: { text: 'improves slowly v2', score: 9 },
      });
      expect(workflow.result).toEqual({ text: 'improves slowly v2 done', words: 4 });
      const failed = entries(workflow, 'stage.failed', 'root.stages.0');
      expect(failed).toHaveLength(1);
      expect(failed[0].detail).toMatch(/^retry: score is 1, below the minimum 5/);
      expect(entries(workflow, 'stage.validated', 'root.stages.0')).toHaveLength(1);
      expect(skills.append.inputs).toContain('improves slowly v2');
      expect(skills.append.inputs).not.toContain('improves slowly v1');
    },
  },
  {
    name: 'gate retries exhausted: the workflow fails and the bad output never reaches the later stage',
    step: {
      kind: 'chain',
      stages: [
        {
          step: { kind: 'task', skill: 'draft', input: doc('gx-1', 'never good') },
          gate: { checks: [{ field: 'score', op: 'min', value: 5 }], onFail: { action: 'retry', maxRetries: 1 } },
        },
        sinkStage,
      ],
    },
    async check(workflow, { skills, quietMs }, before) {
      expect(workflow.status).toBe('failed');
      // maxRetries 1 → 2 runs, both scored 1
      expect(skills.draft.calls.get('gx-1')).toBe(2);
      expect(workflow.reason).toContain('gate of stage 0 still failing after 2 attempts');
      expect(entries(workflow, 'stage.failed', 'root.stages.0').map((e) => e.detail?.split(':')[0])).toEqual([
        'retry',
        'fail',
      ]);
      await sleep(quietMs);
      expect(skills.sink.inputs.length - before.sinkInputs).toBe(0);
      expect(workflow.steps.map((s) => s.path)).not.toContain('root.stages.1');
      expect(entries(workflow, 'step.started', 'root.stages.1')).toHaveLength(0);
    },
  },
  {
    name: 'gate fails with onFail recover: the recovery runs on the rejected output and feeds the next stage',
    step: {
      kind: 'chain',
      stages: [
        {
          step: { kind: 'task', skill: 'draft', input: doc('rc-1', 'never right') },
          gate: {
            checks: [{ field: 'score', op: 'min', value: 5 }],
            onFail: {
              action: 'recover',
              recovery: { kind: 'task', skill: 'fix', inputFrom: { source: 'previous', field: 'text' } },
            },
          },
        },
        appendStage('shipped'),
      ],
    },
    check(workflow, { skills }, before) {
      expect(workflow.status).toBe('completed');
      // draft "never right v1" (score 1) → fix → "fixed(never right v1)" → append "shipped"
      // ("fixed(never", "right", "v1)", "shipped": 4 words); each of them ran once, on these inputs only
      expect(skills.fix.inputs.slice(before.fixInputs)).toEqual(['never right v1']);
      expect(stepAt(workflow, 'root.stages.0.recovery')).toMatchObject({
        status: 'completed',
        output: { text: 'fixed(never right v1)', score: 10 },
      });
      expect(workflow.result).toEqual({ text: 'fixed(never right v1) shipped', words: 4 });
      expect(skills.append.inputs.slice(before.appendInputs)).toEqual(['fixed(never right v1)']);
      expect(skills.append.inputs).not.toContain('never right v1');
      expect(entries(workflow, 'stage.failed', 'root.stages.0').map((e) => e.detail?.split(':')[0])).toEqual([
        'recover',
      ]);
      expect(skills.draft.calls.get('rc-1')).toBe(1);
    },
  },
  {
    name: 'gate fails with onFail fail: the workflow fails, the next stage never runs',
    step: {
      kind: 'chain',
      stages: [
        {
          step: { kind: 'task', skill: 'draft', input: doc('gf-1', 'never ever') },
          gate: { checks: [{ field: 'score', op: 'equals', value: 9 }], onFail: { action: 'fail' } },
        },
        sinkStage,
      ],
    },
    async check(workflow, { skills, quietMs }, before) {
      expect(workflow.status).toBe('failed');
      expect(workflow.reason).toContain('gate of stage 0 failed: score is 1, not 9');
      expect(stepAt(workflow, 'root')).toMatchObject({ kind: 'chain', status: 'failed' });
      expect(skills.draft.calls.get('gf-1')).toBe(1);
      await sleep(quietMs);
      expect(skills.sink.inputs.length - before.sinkInputs).toBe(0);
      expect(skills.sink.inputs).not.toContain('never ever v1');
      expect(skills.sink.inputs).toHaveLength(0); // no scenario ever lets anything reach the sink
      expect(workflow.steps.map((s) => s.path)).not.toContain('root.stages.1');
    },
  },
];

// root → 4 mid supervisors with 13, 14, 13, 14 leaves; leaf l of mid m has m + l + 1 words.
const LEAF_COUNTS = [13, 14, 13, 14];
const leafName = (m: number, l: number) => `leaf-${m}-${l}`;

const supervisorTree: WorkflowScenario = {
  name: 'supervisor tree: 3 levels, 54 leaves, each supervisor rolls up its own children only',
  workflowName: 'three-level tree',
  finishWithinMs: 20_000,
  step: {
    kind: 'supervisor',
    name: 'root',
    children: LEAF_COUNTS.map((n, m) => ({
      kind: 'supervisor',
      name: `mid-${m}`,
      children: Array.from({ length: n }, (_, l) => ({
        kind: 'task',
        name: leafName(m, l),
        skill: 'count',
        input: doc(leafName(m, l), Array.from({ length: m + l + 1 }, (_, w) => `w${w}`).join(' ')),
      })),
    })),
  },
  check(workflow, { skills }, before) {
    expect(workflow.status).toBe('completed');
    // mid m: Σ_{l<n} (m + l + 1) = n·m + n(n+1)/2
    //   mid-0: 13·0 + 91 = 91   mid-1: 14·1 + 105 = 119   mid-2: 13·2 + 91 = 117   mid-3: 14·3 + 105 = 147
    // root: 91 + 119 + 117 + 147 = 474
    const midWords = [91, 119, 117, 147];
    expect(workflow.result).toEqual({ words: 474, inputs: ['mid-0', 'mid-1', 'mid-2', 'mid-3'] });
    expect(skills.count.calls - before.countCalls).toBe(54);
    expect(workflow.steps).toHaveLength(1 + 4 + 54);
    LEAF_COUNTS.forEach((n, m) => {
      const mid = stepAt(workflow, `root.children.${m}`);
      expect(mid).toMatchObject({ kind: 'supervisor', status: 'completed' });
      // its own leaves only, by name, in order
      expect(mid.output).toEqual({ words: midWords[m], inputs: Array.from({ length: n }, (_, l) => leafName(m, l)) });
      // and equal to the combine of its leaves’ recorded outputs
      const leaves = Array.from({ length: n }, (_, l) => stepAt(workflow, `root.children.${m}.children.${l}`));
      expect(leaves.every((leaf) => leaf.status === 'completed' && leaf.kind === 'task')).toBe(true);
      expect(mid.output).toEqual(
        sumWords(leaves.map((leaf) => ({ inputId: String(leaf.name), output: leaf.output ?? {} }))),
      );
    });
    expect(stepAt(workflow, 'root').output).toEqual(workflow.result);
  },
};

/** Bad specs, each with the field the 400 answer must name. */
/** The JSON of a spec nested `levels` deep (supervisors of supervisors), written as text: JSON.stringify would overflow. */
function nestedSpecJson(levels: number): string {
  const task = JSON.stringify({ kind: 'task', skill: 'count', input: doc('deep', 'deep') });
  return `{"step":${'{"kind":"supervisor","children":['.repeat(levels)}${task}${']}'.repeat(levels)}}`;
}

const BAD_SPECS: [string, unknown, string][] = [
  ['unknown kind', { step: { kind: 'loop', skill: 'count', input: doc('x', 'y') } }, 'step.kind'],
  [
    'a gate pattern RE2 cannot run in linear time (a backreference)',
    {
      step: {
        kind: 'chain',
        stages: [
          {
            step: { kind: 'task', skill: 'count', input: doc('re', 'aa') },
            gate: { checks: [{ field: 'text', op: 'matches', value: '(a)\\1' }], onFail: { action: 'fail' } },
          },
          { step: { kind: 'task', skill: 'count', input: doc('re2', 'bb') } },
        ],
      },
    },
    'step.stages.0.gate.checks.0.value',
  ],
  [
    'quorum k above the inputs',
    {
      step: {
        kind: 'fan-out',
        skill: 'count',
        inputs: [doc('a', 'a'), doc('b', 'b')],
        policy: { type: 'quorum', k: 3 },
      },
    },
    'step.policy.k',
  ],
  [
    'saga step without compensation',
    {
      step: {
        kind: 'saga',
        steps: [{ name: 'reserve', action: { skill: 'count', input: doc('s', 'seat') }, deadlineMs: 1000 }],
      },
    },
    'step.steps.0.compensation',
  ],
  [
    'unknown skill at a nested path',
    {
      step: {
        kind: 'supervisor',
        children: [
          { kind: 'task', skill: 'count', input: doc('n-0', 'fine') },
          {
            kind: 'chain',
            stages: [
              { step: { kind: 'task', skill: 'count', input: doc('n-1', 'fine') } },
              { step: { kind: 'task', skill: 'no-such-skill', inputFrom: { source: 'previous', field: 'text' } } },
            ],
          },
        ],
      },
    },
    'step.children.1.stages.1.step.skill',
  ],
];

const httpApi: DrivenScenario[] = [
  {
    name: 'answers 400 naming the bad field of a bad spec',
    async drive({ client }) {
      for (const [what, body, field] of BAD_SPECS) {
        const { status, json } = await client.post(body);
        expect([what, status]).toEqual([what, 400]);
        const fields = ((json['errors'] ?? []) as { field: string }[]).map((e) => e.field);
        expect([what, fields]).toEqual([what, expect.arrayContaining([field])]);
      }
      // Refused before anything recursive runs: a 400 naming the body, not a stack overflow's 500.
      const deep = await fetch(`${client.baseUrl}/workflows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: nestedSpecJson(5_000),
      });
      expect(deep.status).toBe(400);
      expect(JSON.stringify(await deep.json())).toMatch(/"field":"body".*nested deeper than 128 levels/);
      // Larger than MESH_BODY_LIMIT (default 5mb): 413, before anything parses it.
      const huge = await fetch(`${client.baseUrl}/workflows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ skill: 'count', inputs: [doc('big', 'x'.repeat(6 * 1024 * 1024))] }),
      });
      expect(huge.status).toBe(413);
    },
  },
  {
    name: 'lists workflows by status, a page at a time with a cursor',
    async drive({ client }) {
      const done = await client.run({ step: { kind: 'task', skill: 'count', input: doc('ls-1', 'listed once') } });
      const again = await client.run({ step: { kind: 'task', skill: 'count', input: doc('ls-3', 'listed twice') } });
      const failed = await client.run({ step: { kind: 'task', skill: 'flaky', input: doc('ls-2', 'broken listing') } });
      expect([done.status, again.status, failed.status]).toEqual(['completed', 'completed', 'failed']);
      type Page = { workflows: { id: string; status: string }[]; nextCursor?: string };
      /** Every page of one status, one workflow per page. */
      const list = async (status: string) => {
        const seen: { id: string; status: string }[] = [];
        let cursor: string | undefined;
        do {
          const query = `/workflows?status=${status}&limit=1${cursor ? `&cursor=${cursor}` : ''}`;
          const response = await client.request<Page>('GET', query);
          expect(response.status).toBe(200);
          expect(response.json.workflows.length).toBeLessThanOrEqual(1);
          seen.push(...response.json.workflows);
          cursor = response.json.nextCursor;
        } while (cursor);
        return seen;
      };
      const completed = await list('completed');
      expect(completed.map((w) => w.id)).toEqual(expect.arrayContaining([again.id, done.id]));
      // Newest first: the later submission comes before the earlier one.
      expect(completed.findIndex((w) => w.id === again.id)).toBeLessThan(completed.findIndex((w) => w.id === done.id));
      expect(new Set(completed.map((w) => w.id)).size).toBe(completed.length);
      expect(completed.map((w) => w.id)).not.toContain(failed.id);
      expect(completed.every((w) => w.status === 'completed')).toBe(true);
      expect((await list('failed')).map((w) => w.id)).toContain(failed.id);
      expect((await client.request('GET', '/workflows?status=sideways')).status).toBe(400);
      expect((await client.request('GET', '/workflows?cursor=not-an-id')).status).toBe(400);
    },
  },
  {
    name: 'cancels a running workflow; a finished one cannot be cancelled',
    async drive({ client, skills, waitMs }) {
      const id = await client.submit({
        step: { kind: 'task', skill: 'hang', input: doc('cx-1', 'hang until cancelled') },
      });
      await eventually(
        'the task to hang on a worker',
        async () => (skills.hang.hanging.has('cx-1') ? true : undefined),
        waitMs,
      );
      expect((await client.get(id)).status).toBe('running');

      const cancel = await client.cancel(id, 'test says stop');
      expect(cancel.status).toBe(202);
      const workflow = await client.finished(id);
      expect(workflow.status).toBe('cancelled');
      expect(workflow.reason).toContain('test says stop');
      // Exactly one terminal event, its type matching the status.
      expect(terminalEvents(workflow)).toEqual(['workflow.cancelled']);

      expect((await client.cancel(id)).status).toBe(400);
      const completed = await client.run({
        step: { kind: 'task', skill: 'count', input: doc('cx-2', 'already done') },
      });
      expect(completed.status).toBe('completed');
      expect((await client.cancel(completed.id)).status).toBe(400);
      expect((await client.cancel('01a1fdc7-0000-7000-8000-000000000000')).status).toBe(404);
    },
  },
];

/** Eventually the timeline entry of `type` at `stepPath` flagged late (results trail the workflow's end). */
async function lateEntry(mesh: PatternMesh, id: string, type: string, stepPath: string): Promise<TimelineEntry> {
  return eventually(
    `a late ${type} of ${stepPath} on the timeline`,
    async () => entries(await mesh.client.get(id), type, stepPath).find((e) => e.late),
    mesh.waitMs,
  );
}

const deadlines: PatternScenario[] = [
  {
    name: 'lost work: a task on a skill no worker serves ends the workflow timed-out by its deadline, naming the step',
    deadlineMs: 1500,
    step: {
      kind: 'chain',
      stages: [
        { step: { kind: 'task', skill: 'count', input: doc('dl-1', 'done in time') } },
        { step: { kind: 'task', skill: 'unserved', input: doc('dl-2', 'nobody serves this') } },
      ],
    },
    async check(workflow, { client }) {
      expect(workflow.status).toBe('timed-out');
      expect(workflow.reason).toBe('workflow deadline exceeded (1500 ms): root.stages.1 (task) was still running');
      expect(terminalEvents(workflow)).toEqual(['workflow.timed-out']);
      expect(stepAt(workflow, 'root.stages.0').status).toBe('completed');
      const listed = await client.request<{ workflows: { id: string }[] }>('GET', '/workflows?status=timed-out');
      expect(listed.json.workflows.map((w) => w.id)).toContain(workflow.id);
    },
  },
  {
    name: 'a fan-out branch past its deadline is a failed branch: proceed-with-partial completes from the others, and its result comes late',
    step: {
      kind: 'fan-out',
      skill: 'label',
      inputs: [doc('dp-0', 'cat'), doc('dp-1', 'dog after 2500'), doc('dp-2', 'cat')],
      policy: { type: 'proceed-with-partial' },
      branchDeadlineMs: 400,
    },
    async check(workflow, mesh) {
      expect(workflow.status).toBe('completed');
      expect(workflow.result).toEqual({ labels: ['cat', 'cat'] });
      expect(entries(workflow, 'fanout.completed', 'root').map((e) => e.detail)).toEqual(['used branches 0,2']);
      // the real result, 2.5 s in: on the timeline, late; the branch stays failed by its deadline
      const late = await lateEntry(mesh, workflow.id, 'task.completed', 'root');
      expect(late.detail).toContain('dp-1');
      const branch = (await mesh.client.get(workflow.id)).branches.find((b) => b.index === 1);
      expect(branch).toMatchObject({ status: 'failed', error: 'deadline exceeded (400 ms)' });
    },
  },
  {
    name: 'quorum out of reach once two branches pass their deadline fails the workflow',
    step: {
      kind: 'fan-out',
      skill: 'label',
      inputs: [doc('dq-0', 'a'), doc('dq-1', 'b after 2500'), doc('dq-2', 'c after 2500'), doc('dq-3', 'd')],
      policy: { type: 'quorum', k: 3 },
      branchDeadlineMs: 400,
    },
    check(workflow) {
      expect(workflow.status).toBe('failed');
      expect(workflow.reason).toContain('quorum');
    },
  },
  {
    name: "a stage past its deadline fails the chain; the task's real result comes late and changes nothing",
    step: {
      kind: 'chain',
      stages: [
        { step: { kind: 'task', skill: 'label', input: doc('ds-1', 'slow after 1500'), deadlineMs: 300 } },
        { step: { kind: 'task', skill: 'count', input: doc('ds-2', 'never runs') } },
      ],
    },
    async check(workflow, mesh, before) {
      expect(workflow.status).toBe('failed');
      expect(workflow.reason).toBe('root.stages.0 failed: deadline exceeded (300 ms)');
      await lateEntry(mesh, workflow.id, 'task.completed', 'root.stages.0');
      const after = await mesh.client.get(workflow.id);
      expect(after).toMatchObject({ status: 'failed', reason: workflow.reason });
      expect(stepAt(after, 'root.stages.0')).toMatchObject({ status: 'failed', error: 'deadline exceeded (300 ms)' });
      expect(after.steps.map((s) => s.path)).not.toContain('root.stages.1');
      expect(mesh.skills.tally().countCalls).toBe(before.countCalls);
    },
  },
];

/** The table, in the order the scenarios run. */
export const PATTERN_SCENARIOS: readonly ScenarioGroup[] = [
  { scenarios: [transport, task] },
  { title: 'fan-out failure policies', scenarios: failurePolicies },
  { title: 'aggregation strategies', scenarios: strategies },
  { title: 'chain with validation gates', scenarios: chainGates },
  { scenarios: [supervisorTree] },
  { title: 'HTTP API', scenarios: httpApi },
  { title: 'deadlines', scenarios: deadlines },
];
