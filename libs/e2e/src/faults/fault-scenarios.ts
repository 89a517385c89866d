/*
 * The workflows the chaos runs: every pattern of docs/patterns.md — the fan-out under each
 * failure policy and strategy, chains through each kind of gate, a supervisor tree, sagas that
 * complete and that compensate, a market, solver rounds and a blackboard — each with the status
 * its spec intends. They follow the scenario table of ../support/pattern-scenarios.ts, with the
 * suite's ledger skills (fault-skills.ts) in place of the in-process test skills, and steps
 * chosen so that a kill or a redelivery cannot change the intended status (no hanging branches:
 * a hung task would hold a worker slot for TASK_TIMEOUT_MS). Input ids start with the
 * workflow's ordinal, so each unit of work is unique across the run (the effect ledger's key).
 */

export type IntendedStatus = 'completed' | 'failed' | 'compensated';

export interface FaultScenario {
  readonly pattern: string;
  readonly name: string;
  readonly intended: IntendedStatus;
  /** The workflow's step; `p` prefixes every input id (unique per workflow). */
  step(p: string): object;
}

const doc = (id: string, text: string) => ({ id, text });
const docs = (p: string, texts: readonly string[]) => texts.map((text, i) => doc(`${p}-${i}`, text));

const append = (word: string) => ({
  step: { kind: 'task', skill: 'append', inputFrom: { source: 'previous', field: 'text' }, params: { word } },
});
const minScore = (onFail: object) => ({ checks: [{ field: 'score', op: 'min', value: 5 }], onFail });

/** A saga step of the `book` skill: `op` on input `<p>-<name>`, released by its compensation. */
const sagaStep = (p: string, name: string, op: string) => ({
  name,
  action: { skill: 'book', input: doc(`${p}-${name}`, `${op} ${name}`), params: { op } },
  compensation: { skill: 'book', input: doc(`${p}-${name}`, `release ${name}`), params: { op: 'release' } },
  // long enough that a worker killed mid-step, or a broker restart, does not miss it
  deadlineMs: 90_000,
});

const fanOut = (p: string, skill: string, texts: readonly string[], extra: object = {}) => ({
  kind: 'fan-out',
  skill,
  inputs: docs(p, texts),
  ...extra,
});

export const FAULT_SCENARIOS: readonly FaultScenario[] = [
  {
    pattern: 'task',
    name: 'one task',
    intended: 'completed',
    step: (p) => ({ kind: 'task', skill: 'append', input: doc(p, 'red green'), params: { word: 'blue' } }),
  },
  {
    pattern: 'fan-out',
    name: 'combine, fail-fast, all good',
    intended: 'completed',
    step: (p) => fanOut(p, 'count', ['one', 'two words', 'three more words', 'four words in all']),
  },
  {
    pattern: 'fan-out',
    name: 'fail-fast with a broken input',
    intended: 'failed',
    step: (p) => fanOut(p, 'flaky', ['one two', 'broken input', 'three'], { policy: { type: 'fail-fast' } }),
  },
  {
    pattern: 'fan-out',
    name: 'retry-branch: a branch failing its first run',
    intended: 'completed',
    step: (p) =>
      fanOut(p, 'flaky', ['alpha beta', 'flaky gamma delta', 'zeta'], {
        policy: { type: 'retry-branch', maxRetries: 2 },
      }),
  },
  {
    pattern: 'fan-out',
    name: 'retry-branch exhausted',
    intended: 'failed',
    step: (p) =>
      fanOut(p, 'flaky', ['fine words', 'broken forever'], { policy: { type: 'retry-branch', maxRetries: 1 } }),
  },
  {
    pattern: 'fan-out',
    name: 'proceed-with-partial',
    intended: 'completed',
    step: (p) => fanOut(p, 'flaky', ['a b c', 'broken d e', 'f g'], { policy: { type: 'proceed-with-partial' } }),
  },
  {
    pattern: 'fan-out',
    name: 'quorum 3 of 5 reached',
    intended: 'completed',
    step: (p) =>
      fanOut(p, 'flaky', ['one', 'broken', 'two words', 'broken too', 'three more words'], {
        policy: { type: 'quorum', k: 3 },
      }),
  },
  {
    pattern: 'fan-out',
    name: 'quorum out of reach',
    intended: 'failed',
    step: (p) =>
      fanOut(p, 'flaky', ['ok', 'broken', 'broken', 'ok too', 'broken'], { policy: { type: 'quorum', k: 3 } }),
  },
  {
    pattern: 'fan-out',
    name: 'majority-vote',
    intended: 'completed',
    step: (p) =>
      fanOut(p, 'label', ['cat', 'dog', 'cat', 'dog', 'cat'], { strategy: { type: 'majority-vote', field: 'label' } }),
  },
  {
    pattern: 'fan-out',
    name: 'ranked-fusion',
    intended: 'completed',
    step: (p) =>
      fanOut(p, 'rank', ['a,b,c', 'b,a,d', 'c,b,a'], { strategy: { type: 'ranked-fusion', field: 'ranking', k: 60 } }),
  },
  {
    pattern: 'fan-out',
    name: 'last-writer-wins',
    intended: 'completed',
    step: (p) =>
      fanOut(p, 'label', ['slow after 200', 'fast', 'middle after 50'], { strategy: { type: 'last-writer-wins' } }),
  },
  {
    pattern: 'chain',
    name: 'three stages, gates pass',
    intended: 'completed',
    step: (p) => ({
      kind: 'chain',
      stages: [
        {
          step: { kind: 'task', skill: 'append', input: doc(p, 'one two'), params: { word: 'three' } },
          gate: { checks: [{ field: 'words', op: 'min', value: 3 }], onFail: { action: 'fail' } },
        },
        {
          ...append('four'),
          gate: { checks: [{ field: 'text', op: 'matches', value: 'four$' }], onFail: { action: 'fail' } },
        },
        append('five'),
      ],
    }),
  },
  {
    pattern: 'chain',
    name: 'gate retry, then on',
    intended: 'completed',
    step: (p) => ({
      kind: 'chain',
      stages: [
        {
          step: { kind: 'task', skill: 'draft', input: doc(p, 'improves slowly') },
          gate: minScore({ action: 'retry', maxRetries: 3 }),
        },
        append('done'),
      ],
    }),
  },
  {
    pattern: 'chain',
    name: 'gate retries exhausted',
    intended: 'failed',
    step: (p) => ({
      kind: 'chain',
      stages: [
        {
          step: { kind: 'task', skill: 'draft', input: doc(p, 'never good') },
          gate: minScore({ action: 'retry', maxRetries: 1 }),
        },
        append('never'),
      ],
    }),
  },
  {
    pattern: 'chain',
    name: 'gate recover',
    intended: 'completed',
    step: (p) => ({
      kind: 'chain',
      stages: [
        {
          step: { kind: 'task', skill: 'draft', input: doc(p, 'never right') },
          gate: minScore({
            action: 'recover',
            recovery: { kind: 'task', skill: 'fix', inputFrom: { source: 'previous', field: 'text' } },
          }),
        },
        append('shipped'),
      ],
    }),
  },
  {
    pattern: 'chain',
    name: 'gate fail',
    intended: 'failed',
    step: (p) => ({
      kind: 'chain',
      stages: [
        { step: { kind: 'task', skill: 'draft', input: doc(p, 'never ever') }, gate: minScore({ action: 'fail' }) },
        append('never'),
      ],
    }),
  },
  {
    pattern: 'supervisor',
    name: 'two levels, 2 × 3 leaves',
    intended: 'completed',
    step: (p) => ({
      kind: 'supervisor',
      children: [0, 1].map((m) => ({
        kind: 'supervisor',
        name: `mid-${m}`,
        children: [0, 1, 2].map((l) => ({
          kind: 'task',
          name: `leaf-${m}-${l}`,
          skill: 'count',
          input: doc(`${p}-${m}-${l}`, 'w '.repeat(m + l + 1).trim()),
        })),
      })),
    }),
  },
  {
    pattern: 'saga',
    name: 'every step done',
    intended: 'completed',
    step: (p) => ({ kind: 'saga', steps: [sagaStep(p, 'reserve', 'reserve'), sagaStep(p, 'charge', 'charge')] }),
  },
  {
    pattern: 'saga',
    name: 'step 3 fails: 2 then 1 compensated',
    intended: 'compensated',
    step: (p) => ({
      kind: 'saga',
      steps: [sagaStep(p, 'one', 'reserve'), sagaStep(p, 'two', 'reserve'), sagaStep(p, 'three', 'fail')],
    }),
  },
  {
    pattern: 'market',
    name: 'ask filled by a bidder',
    intended: 'completed',
    step: (p) => ({
      kind: 'market',
      skill: 'count',
      input: doc(p, 'a market task of a few words'),
      budget: 50,
      expireAfterMs: 15_000,
      reprice: { factor: 1.5, maxBudget: 200, times: 3 },
    }),
  },
  {
    pattern: 'solver-rounds',
    name: '3 solvers × 2 rounds',
    intended: 'completed',
    step: (p) => ({
      kind: 'solver-rounds',
      skill: 'estimate',
      input: doc(p, 'How many minutes does a short walk around the lake take?'),
      solvers: 3,
      rounds: 2,
      strategy: { type: 'combine' },
    }),
  },
  {
    pattern: 'blackboard',
    name: 'question → summary → keywords',
    intended: 'completed',
    step: () => ({
      kind: 'blackboard',
      board: 'default',
      seed: [
        {
          kind: 'question',
          text:
            'Blackboards let independent agents cooperate through a shared board. ' +
            'Each agent watches the board and posts what it knows when an entry of its kind appears.',
        },
      ],
      sources: [
        { name: 'summarizer', skill: 'summarize', on: 'question', produces: 'summary', field: 'summary' },
        { name: 'indexer', skill: 'keywords', on: 'summary', produces: 'keywords' },
      ],
      until: { kind: 'keywords', count: 1 },
      maxEntries: 10,
    }),
  },
];

/** The patterns the table covers (the counts line is per workflow; the report lists them per pattern). */
export const FAULT_PATTERNS = [...new Set(FAULT_SCENARIOS.map((s) => s.pattern))];
