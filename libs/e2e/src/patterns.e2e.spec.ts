import type { StepState, TimelineEntry, WorkflowView } from '@agent-mesh/agents/orchestrator';
import {
  createDefaultSkillRegistry,
  SkillInputError,
  type Skill,
  type SkillContext,
  type SkillInput,
  type SkillOutput,
  type SkillRegistry,
} from '@agent-mesh/skills';
import { eventually, InProcessMesh, startAgents, WORKFLOW_ROLES, WorkflowClient } from '@agent-mesh/testing';
import {
  AppendSkill,
  CountSkill,
  DraftSkill,
  FixSkill,
  FlakySkill,
  RankSkill,
  SinkSkill,
  sleep,
  sumWords,
  wordCount,
  type Outputs,
} from './support/test-skills';

/*
 * Every coordination pattern of the workflow engine (docs/patterns.md) end to end: an
 * orchestrator, an aggregator and two workers as separate "processes" on one memory broker,
 * driven over HTTP only. The skills are test skills with outputs simple enough to compute by
 * hand; every expected value below is written down from that hand computation.
 */

/** Word count, except that "hang …" inputs never finish until the test releases them (or the worker stops). */
class HangSkill implements Skill {
  readonly name = 'hang';
  readonly description = 'hangs on purpose (test)';
  readonly hanging = new Set<string>();
  released = false;
  private open!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));
  async run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
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

/** `{ label }` from text "<label>" or "<label> after <ms>" (answers after that delay). */
class LabelSkill implements Skill {
  readonly name = 'label';
  readonly description = 'labels (test)';
  async run(input: SkillInput): Promise<SkillOutput> {
    const match = /^(\S+)(?: after (\d+))?$/.exec(input.text.trim());
    if (!match) throw new SkillInputError(this.name, `cannot read ${input.text}`);
    if (match[2]) await sleep(Number(match[2]));
    return { label: match[1] };
  }
  combine(outputs: Outputs): SkillOutput {
    return { labels: outputs.map((o) => o.output['label']) };
  }
}

const count = new CountSkill();
const flaky = new FlakySkill();
const hang = new HangSkill();
const label = new LabelSkill();
const rank = new RankSkill();
const append = new AppendSkill();
const draft = new DraftSkill();
const fix = new FixSkill();
const sink = new SinkSkill();

/** Each process gets its own registry (like separate processes), holding the same test skills. */
function registry(): SkillRegistry {
  const skills = createDefaultSkillRegistry();
  for (const skill of [count, flaky, hang, label, rank, append, draft, fix, sink]) skills.register(skill);
  return skills;
}

describe('workflow patterns across agent processes (memory bus)', () => {
  const mesh = new InProcessMesh();
  let client: WorkflowClient;

  beforeAll(async () => {
    const [orchestrator] = await startAgents(mesh, WORKFLOW_ROLES, () => ({ skills: registry() }));
    client = new WorkflowClient(orchestrator.url, { timeoutMs: 10_000 });
  });

  afterAll(async () => {
    hang.release();
    await sleep(50);
    await mesh.stopAll();
  });

  const submit = (step: unknown, name?: string): Promise<string> => client.submit({ name, step });
  const run = (step: unknown): Promise<WorkflowView> => client.run({ step });

  function stepAt(workflow: WorkflowView, path: string): StepState {
    const found = workflow.steps.find((s) => s.path === path);
    if (!found) throw new Error(`no step ${path} in ${workflow.steps.map((s) => s.path).join(', ')}`);
    return found;
  }

  function entries(workflow: WorkflowView, type: string, stepPath?: string): TimelineEntry[] {
    return workflow.timeline.filter((e) => e.type === type && (stepPath === undefined || e.stepPath === stepPath));
  }

  const doc = (id: string, text: string) => ({ id, text });

  it('task: a single task step completes with the skill’s output', async () => {
    const workflow = await run({ kind: 'task', skill: 'append', input: doc('t-1', 'red green'), params: { word: 'blue' } });
    expect(workflow.status).toBe('completed');
    // "red green" + " blue" → "red green blue", 3 words
    expect(workflow.result).toEqual({ text: 'red green blue', words: 3 });
    expect(workflow.steps).toHaveLength(1);
    expect(workflow.steps[0]).toMatchObject({ path: 'root', kind: 'task', status: 'completed', attempt: 1, output: { text: 'red green blue', words: 3 } });
    expect(entries(workflow, 'task.assigned', 'root')).toHaveLength(1);
    expect(entries(workflow, 'workflow.completed')).toHaveLength(1);
  });

  describe('fan-out failure policies', () => {
    it('fail-fast: one bad input fails the workflow, and the reason names it', async () => {
      const workflow = await run({
        kind: 'fan-out',
        skill: 'flaky',
        inputs: [doc('ff-good-1', 'one two'), doc('ff-rotten', 'broken input'), doc('ff-good-2', 'three')],
        policy: { type: 'fail-fast' },
      });
      expect(workflow.status).toBe('failed');
      expect(workflow.reason).toContain('ff-rotten');
      expect(workflow.reason).toContain('fail-fast');
      expect(workflow.reason).not.toContain('ff-good');
      expect(stepAt(workflow, 'root')).toMatchObject({ status: 'failed' });
      expect(entries(workflow, 'fanout.failed', 'root')).toHaveLength(1);
      expect(entries(workflow, 'fanout.completed')).toHaveLength(0);
    });

    it('retry-branch: a branch failing its first attempt is re-run, and the workflow completes', async () => {
      const id = await submit({
        kind: 'fan-out',
        skill: 'flaky',
        inputs: [doc('rb-a', 'alpha beta'), doc('rb-b', 'flaky gamma delta epsilon'), doc('rb-c', 'zeta')],
        policy: { type: 'retry-branch', maxRetries: 2 },
      });
      const workflow = await client.finished(id);
      expect(workflow.status).toBe('completed');
      // 2 + 4 + 1 words, in branch order
      expect(workflow.result).toEqual({ words: 7, inputs: ['rb-a', 'rb-b', 'rb-c'] });
      expect(flaky.calls.get('rb-b')).toBe(2);
      expect(flaky.calls.get('rb-a')).toBe(1);
      const retries = entries(workflow, 'fanout.retry', 'root');
      expect(retries).toHaveLength(1);
      expect(retries[0].detail).toBe('branches 1 attempt 2');
      // the branch projection follows task.results on its own subscription: eventually attempt 2
      const branches = await eventually('branch 1 at attempt 2', async () => {
        const b = (await client.get(id)).branches;
        return b[1]?.attempt === 2 && b[1].status === 'completed' ? b : undefined;
      });
      expect(branches.map((b) => [b.index, b.status, b.attempt])).toEqual([
        [0, 'completed', 1],
        [1, 'completed', 2],
        [2, 'completed', 1],
      ]);
    });

    it('retry-branch is bounded: a branch that always fails fails the workflow after maxRetries + 1 attempts', async () => {
      const workflow = await run({
        kind: 'fan-out',
        skill: 'flaky',
        inputs: [doc('rbx-ok', 'fine words'), doc('rbx-bad', 'broken forever')],
        policy: { type: 'retry-branch', maxRetries: 2 },
      });
      expect(workflow.status).toBe('failed');
      expect(workflow.reason).toContain('rbx-bad');
      expect(workflow.reason).toContain('3 attempts');
      // maxRetries 2 → attempts 1, 2, 3; never a fourth
      await sleep(100);
      expect(flaky.calls.get('rbx-bad')).toBe(3);
      expect(entries(workflow, 'fanout.retry', 'root').map((e) => e.detail)).toEqual(['branches 1 attempt 2', 'branches 1 attempt 3']);
    });

    it('proceed-with-partial: 1 of 3 fails, the workflow completes from the 2 good ones', async () => {
      const workflow = await run({
        kind: 'fan-out',
        skill: 'flaky',
        inputs: [doc('pp-0', 'a b c'), doc('pp-1', 'broken d e'), doc('pp-2', 'f g')],
        policy: { type: 'proceed-with-partial' },
      });
      expect(workflow.status).toBe('completed');
      // branches 0 and 2: 3 + 2 words
      expect(workflow.result).toEqual({ words: 5, inputs: ['pp-0', 'pp-2'] });
      expect(entries(workflow, 'fanout.completed', 'root').map((e) => e.detail)).toEqual(['used branches 0,2']);
    });

    it('quorum 3 of 5 completes when 3 branches succeed while 2 hang', async () => {
      const id = await submit({
        kind: 'fan-out',
        skill: 'hang',
        inputs: [doc('q-0', 'one'), doc('q-1', 'hang one two'), doc('q-2', 'two words'), doc('q-3', 'hang x'), doc('q-4', 'three more words')],
        policy: { type: 'quorum', k: 3 },
      });
      const workflow = await client.finished(id);
      expect(workflow.status).toBe('completed');
      // branches 0, 2, 4: 1 + 2 + 3 words
      expect(workflow.result).toEqual({ words: 6, inputs: ['q-0', 'q-2', 'q-4'] });
      expect(entries(workflow, 'fanout.completed', 'root').map((e) => e.detail)).toEqual(['used branches 0,2,4']);
      // the two hanging branches were running, are still running, and were not waited for
      expect([...hang.hanging].filter((h) => h.startsWith('q-')).sort()).toEqual(['q-1', 'q-3']);
      expect(hang.released).toBe(false);
      const pending = (await client.get(id)).branches.filter((b) => b.status === 'pending').map((b) => b.index);
      expect(pending).toEqual([1, 3]);
    });

    it('quorum out of reach fails the workflow', async () => {
      const workflow = await run({
        kind: 'fan-out',
        skill: 'flaky',
        inputs: [doc('qx-0', 'ok'), doc('qx-1', 'broken'), doc('qx-2', 'broken'), doc('qx-3', 'ok too'), doc('qx-4', 'broken')],
        policy: { type: 'quorum', k: 3 },
      });
      expect(workflow.status).toBe('failed');
      expect(workflow.reason).toContain('quorum');
      expect(workflow.reason).toContain('k=3');
      expect(workflow.result).toBeUndefined();
    });
  });

  describe('aggregation strategies', () => {
    it('majority-vote: 3 × cat, 2 × dog → cat wins with its votes', async () => {
      const workflow = await run({
        kind: 'fan-out',
        skill: 'label',
        inputs: ['cat', 'dog', 'cat', 'dog', 'cat'].map((text, i) => doc(`mv-${i}`, text)),
        strategy: { type: 'majority-vote', field: 'label' },
      });
      expect(workflow.status).toBe('completed');
      // votes are keyed by the canonical JSON of the value
      expect(workflow.result).toEqual({ type: 'majority-vote', winner: 'cat', votes: { '"cat"': 3, '"dog"': 2 }, total: 5, abstained: 0 });
    });

    it('ranked-fusion: [a,b,c], [b,a,d], [c,b,a] with k=60 → b, a, c, d', async () => {
      const workflow = await run({
        kind: 'fan-out',
        skill: 'rank',
        inputs: [doc('rf-0', 'a,b,c'), doc('rf-1', 'b,a,d'), doc('rf-2', 'c,b,a')],
        strategy: { type: 'ranked-fusion', field: 'ranking', k: 60 },
      });
      expect(workflow.status).toBe('completed');
      // score = Σ 1/(60 + rank):
      //   a: ranks 1, 2, 3 → 1/61 + 1/62 + 1/63 ≈ 0.0483955
      //   b: ranks 2, 1, 2 → 1/61 + 2/62        ≈ 0.0486515
      //   c: ranks 3, -, 1 → 1/61 + 1/63        ≈ 0.0322665
      //   d: ranks -, 3, - → 1/63               ≈ 0.0158730
      const expected = [
        { id: 'b', score: 1 / 61 + 2 / 62 },
        { id: 'a', score: 1 / 61 + 1 / 62 + 1 / 63 },
        { id: 'c', score: 1 / 61 + 1 / 63 },
        { id: 'd', score: 1 / 63 },
      ];
      const result = workflow.result as { type: string; ranking: { id: string; score: number }[] };
      expect(result.type).toBe('ranked-fusion');
      expect(result.ranking.map((r) => r.id)).toEqual(['b', 'a', 'c', 'd']);
      result.ranking.forEach((r, i) => expect(r.score).toBeCloseTo(expected[i].score, 12));
    });

    it('last-writer-wins: the branch that completed last wins, whatever its index', async () => {
      // branch 0 answers after 600 ms, branch 1 at once, branch 2 after 150 ms: arrival 1, 2, 0
      const workflow = await run({
        kind: 'fan-out',
        skill: 'label',
        inputs: [doc('lw-0', 'slowest after 600'), doc('lw-1', 'fastest'), doc('lw-2', 'middle after 150')],
        strategy: { type: 'last-writer-wins' },
      });
      expect(workflow.status).toBe('completed');
      const result = workflow.result as { type: string; winner?: { branchIndex: number; inputId?: string; output: SkillOutput } };
      expect(result.type).toBe('last-writer-wins');
      expect(result.winner).toMatchObject({ branchIndex: 0, inputId: 'lw-0', output: { label: 'slowest' } });
    });

    it('all: every output, in branch order', async () => {
      const workflow = await run({
        kind: 'fan-out',
        skill: 'label',
        inputs: [doc('all-0', 'x after 100'), doc('all-1', 'y'), doc('all-2', 'z after 50')],
        strategy: { type: 'all' },
      });
      expect(workflow.status).toBe('completed');
      expect(workflow.result).toEqual({
        type: 'all',
        outputs: [
          { branchIndex: 0, inputId: 'all-0', output: { label: 'x' } },
          { branchIndex: 1, inputId: 'all-1', output: { label: 'y' } },
          { branchIndex: 2, inputId: 'all-2', output: { label: 'z' } },
        ],
      });
    });
  });

  describe('chain with validation gates', () => {
    it('runs 3 stages, each from the previous output; passing gates publish stage.validated', async () => {
      const workflow = await run({
        kind: 'chain',
        stages: [
          {
            step: { kind: 'task', skill: 'append', input: doc('ch-0', 'one two'), params: { word: 'three' } },
            gate: { checks: [{ field: 'words', op: 'min', value: 3 }], onFail: { action: 'fail' } },
          },
          {
            step: { kind: 'task', skill: 'append', inputFrom: { source: 'previous', field: 'text' }, params: { word: 'four' } },
            gate: { checks: [{ field: 'text', op: 'matches', value: '^one two three four$' }], onFail: { action: 'fail' } },
          },
          { step: { kind: 'task', skill: 'append', inputFrom: { source: 'previous', field: 'text' }, params: { word: 'five' } } },
        ],
      });
      expect(workflow.status).toBe('completed');
      // "one two" → "one two three" → "one two three four" → "one two three four five"
      expect(stepAt(workflow, 'root.stages.0').output).toEqual({ text: 'one two three', words: 3 });
      expect(stepAt(workflow, 'root.stages.1').output).toEqual({ text: 'one two three four', words: 4 });
      expect(stepAt(workflow, 'root.stages.2').output).toEqual({ text: 'one two three four five', words: 5 });
      expect(workflow.result).toEqual({ text: 'one two three four five', words: 5 });
      expect(stepAt(workflow, 'root')).toMatchObject({ kind: 'chain', status: 'completed', output: { text: 'one two three four five', words: 5 } });
      expect(entries(workflow, 'stage.validated').map((e) => e.stepPath)).toEqual(['root.stages.0', 'root.stages.1']);
      expect(entries(workflow, 'stage.failed')).toHaveLength(0);
      // each stage started only after the one before it completed
      const at = (type: string, path: string) => workflow.timeline.findIndex((e) => e.type === type && e.stepPath === path);
      expect(at('step.completed', 'root.stages.0')).toBeLessThan(at('step.started', 'root.stages.1'));
      expect(at('step.completed', 'root.stages.1')).toBeLessThan(at('step.started', 'root.stages.2'));
    });

    it('gate fails with onFail retry: the stage runs again and the chain continues from the good output', async () => {
      const workflow = await run({
        kind: 'chain',
        stages: [
          {
            step: { kind: 'task', skill: 'draft', input: doc('gr-1', 'improves slowly') },
            gate: { checks: [{ field: 'score', op: 'min', value: 5 }], onFail: { action: 'retry', maxRetries: 2 } },
          },
          { step: { kind: 'task', skill: 'append', inputFrom: { source: 'previous', field: 'text' }, params: { word: 'done' } } },
        ],
      });
      expect(workflow.status).toBe('completed');
      // run 1: "improves slowly v1", score 1 → rejected; run 2: "improves slowly v2", score 9 → passes
      expect(draft.calls.get('gr-1')).toBe(2);
      expect(stepAt(workflow, 'root.stages.0')).toMatchObject({ status: 'completed', attempt: 2, output: { text: 'improves slowly v2', score: 9 } });
      expect(workflow.result).toEqual({ text: 'improves slowly v2 done', words: 4 });
      const failed = entries(workflow, 'stage.failed', 'root.stages.0');
      expect(failed).toHaveLength(1);
      expect(failed[0].detail).toMatch(/^retry: score is 1, below the minimum 5/);
      expect(entries(workflow, 'stage.validated', 'root.stages.0')).toHaveLength(1);
      expect(append.inputs).not.toContain('improves slowly v1');
    });

    it('gate retries exhausted: the workflow fails and the bad output never reaches the later stage', async () => {
      const sinkRuns = sink.inputs.length;
      const workflow = await run({
        kind: 'chain',
        stages: [
          {
            step: { kind: 'task', skill: 'draft', input: doc('gx-1', 'never good') },
            gate: { checks: [{ field: 'score', op: 'min', value: 5 }], onFail: { action: 'retry', maxRetries: 1 } },
          },
          { step: { kind: 'task', skill: 'sink', inputFrom: { source: 'previous', field: 'text' } } },
        ],
      });
      expect(workflow.status).toBe('failed');
      // maxRetries 1 → 2 runs, both scored 1
      expect(draft.calls.get('gx-1')).toBe(2);
      expect(workflow.reason).toContain('gate of stage 0 still failing after 2 attempts');
      expect(entries(workflow, 'stage.failed', 'root.stages.0').map((e) => e.detail?.split(':')[0])).toEqual(['retry', 'fail']);
      await sleep(100);
      expect(sink.inputs.length - sinkRuns).toBe(0);
      expect(workflow.steps.map((s) => s.path)).not.toContain('root.stages.1');
      expect(entries(workflow, 'step.started', 'root.stages.1')).toHaveLength(0);
    });

    it('gate fails with onFail recover: the recovery runs on the rejected output and feeds the next stage', async () => {
      const workflow = await run({
        kind: 'chain',
        stages: [
          {
            step: { kind: 'task', skill: 'draft', input: doc('rc-1', 'never right') },
            gate: {
              checks: [{ field: 'score', op: 'min', value: 5 }],
              onFail: { action: 'recover', recovery: { kind: 'task', skill: 'fix', inputFrom: { source: 'previous', field: 'text' } } },
            },
          },
          { step: { kind: 'task', skill: 'append', inputFrom: { source: 'previous', field: 'text' }, params: { word: 'shipped' } } },
        ],
      });
      expect(workflow.status).toBe('completed');
      // draft "never right v1" (score 1) → fix → "fixed(never right v1)" → append "shipped"
      expect(fix.inputs).toContain('never right v1');
      expect(stepAt(workflow, 'root.stages.0.recovery')).toMatchObject({ status: 'completed', output: { text: 'fixed(never right v1)', score: 10 } });
      expect(workflow.result).toEqual({ text: 'fixed(never right v1) shipped', words: 4 });
      expect(append.inputs).toContain('fixed(never right v1)');
      expect(append.inputs).not.toContain('never right v1');
      expect(entries(workflow, 'stage.failed', 'root.stages.0').map((e) => e.detail?.split(':')[0])).toEqual(['recover']);
      expect(draft.calls.get('rc-1')).toBe(1);
    });

    it('gate fails with onFail fail: the workflow fails, the next stage never runs', async () => {
      const sinkRuns = sink.inputs.length;
      const workflow = await run({
        kind: 'chain',
        stages: [
          {
            step: { kind: 'task', skill: 'draft', input: doc('gf-1', 'never ever') },
            gate: { checks: [{ field: 'score', op: 'equals', value: 9 }], onFail: { action: 'fail' } },
          },
          { step: { kind: 'task', skill: 'sink', inputFrom: { source: 'previous', field: 'text' } } },
        ],
      });
      expect(workflow.status).toBe('failed');
      expect(workflow.reason).toContain('gate of stage 0 failed: score is 1, not 9');
      expect(stepAt(workflow, 'root')).toMatchObject({ kind: 'chain', status: 'failed' });
      expect(draft.calls.get('gf-1')).toBe(1);
      await sleep(100);
      expect(sink.inputs.length - sinkRuns).toBe(0);
      expect(workflow.steps.map((s) => s.path)).not.toContain('root.stages.1');
    });
  });

  it('supervisor tree: 3 levels, 54 leaves, each supervisor rolls up its own children only', async () => {
    // root → 4 mid supervisors with 13, 14, 13, 14 leaves; leaf l of mid m has m + l + 1 words.
    const leafCounts = [13, 14, 13, 14];
    const leafName = (m: number, l: number) => `leaf-${m}-${l}`;
    const step = {
      kind: 'supervisor',
      name: 'root',
      children: leafCounts.map((n, m) => ({
        kind: 'supervisor',
        name: `mid-${m}`,
        children: Array.from({ length: n }, (_, l) => ({
          kind: 'task',
          name: leafName(m, l),
          skill: 'count',
          input: doc(leafName(m, l), Array.from({ length: m + l + 1 }, (_, w) => `w${w}`).join(' ')),
        })),
      })),
    };
    const calls = count.calls;
    const workflow = await client.finished(await submit(step, 'three-level tree'), 20_000);
    expect(workflow.status).toBe('completed');
    // mid m: Σ_{l<n} (m + l + 1) = n·m + n(n+1)/2
    //   mid-0: 13·0 + 91 = 91   mid-1: 14·1 + 105 = 119   mid-2: 13·2 + 91 = 117   mid-3: 14·3 + 105 = 147
    // root: 91 + 119 + 117 + 147 = 474
    const midWords = [91, 119, 117, 147];
    expect(workflow.result).toEqual({ words: 474, inputs: ['mid-0', 'mid-1', 'mid-2', 'mid-3'] });
    expect(count.calls - calls).toBe(54);
    expect(workflow.steps).toHaveLength(1 + 4 + 54);
    leafCounts.forEach((n, m) => {
      const mid = stepAt(workflow, `root.children.${m}`);
      expect(mid).toMatchObject({ kind: 'supervisor', status: 'completed' });
      // its own leaves only, by name, in order
      expect(mid.output).toEqual({ words: midWords[m], inputs: Array.from({ length: n }, (_, l) => leafName(m, l)) });
      // and equal to the combine of its leaves’ recorded outputs
      const leaves = Array.from({ length: n }, (_, l) => stepAt(workflow, `root.children.${m}.children.${l}`));
      expect(leaves.every((leaf) => leaf.status === 'completed' && leaf.kind === 'task')).toBe(true);
      expect(mid.output).toEqual(sumWords(leaves.map((leaf) => ({ inputId: String(leaf.name), output: leaf.output ?? {} }))));
    });
    expect(stepAt(workflow, 'root').output).toEqual(workflow.result);
  });

  describe('HTTP API', () => {
    it('answers 400 naming the bad field of a bad spec', async () => {
      const cases: [string, unknown, string][] = [
        ['unknown kind', { step: { kind: 'loop', skill: 'count', input: doc('x', 'y') } }, 'step.kind'],
        [
          'quorum k above the inputs',
          { step: { kind: 'fan-out', skill: 'count', inputs: [doc('a', 'a'), doc('b', 'b')], policy: { type: 'quorum', k: 3 } } },
          'step.policy.k',
        ],
        [
          'saga step without compensation',
          { step: { kind: 'saga', steps: [{ name: 'reserve', action: { skill: 'count', input: doc('s', 'seat') }, deadlineMs: 1000 }] } },
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
      for (const [what, body, field] of cases) {
        const { status, json } = await client.post(body);
        expect([what, status]).toEqual([what, 400]);
        const fields = ((json['errors'] ?? []) as { field: string }[]).map((e) => e.field);
        expect([what, fields]).toEqual([what, expect.arrayContaining([field])]);
      }
    });

    it('lists workflows by status', async () => {
      const done = await run({ kind: 'task', skill: 'count', input: doc('ls-1', 'listed once') });
      const failed = await run({ kind: 'task', skill: 'flaky', input: doc('ls-2', 'broken listing') });
      expect([done.status, failed.status]).toEqual(['completed', 'failed']);
      const list = async (status: string) => {
        const response = await client.request<{ id: string; status: string }[]>('GET', `/workflows?status=${status}`);
        expect(response.status).toBe(200);
        return response.json;
      };
      const completed = await list('completed');
      expect(completed.map((w) => w.id)).toContain(done.id);
      expect(completed.map((w) => w.id)).not.toContain(failed.id);
      expect(completed.every((w) => w.status === 'completed')).toBe(true);
      expect((await list('failed')).map((w) => w.id)).toContain(failed.id);
      expect((await client.request('GET', '/workflows?status=sideways')).status).toBe(400);
    });

    it('cancels a running workflow; a finished one cannot be cancelled', async () => {
      const id = await submit({ kind: 'task', skill: 'hang', input: doc('cx-1', 'hang until cancelled') });
      await eventually('the task to hang on a worker', async () => (hang.hanging.has('cx-1') ? true : undefined));
      expect((await client.get(id)).status).toBe('running');

      const cancel = await client.cancel(id, 'test says stop');
      expect(cancel.status).toBe(202);
      const workflow = await client.finished(id);
      expect(workflow.status).toBe('cancelled');
      expect(workflow.reason).toContain('test says stop');

      expect((await client.cancel(id)).status).toBe(400);
      const completed = await run({ kind: 'task', skill: 'count', input: doc('cx-2', 'already done') });
      expect(completed.status).toBe('completed');
      expect((await client.cancel(completed.id)).status).toBe(400);
      expect((await client.cancel('01a1fdc7-0000-7000-8000-000000000000')).status).toBe(404);
    });
  });
});
