import {
  EstimateSkill,
  SkillInputError,
  type Skill,
  type SkillContext,
  type SkillInput,
  type SkillOutput,
} from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';

/*
 * The small test skills the e2e suites share. Their outputs are simple enough to compute by hand;
 * every spec writes its expected values down from that hand computation.
 */

/** What a skill's `combine` receives. */
export type Outputs = readonly { readonly inputId: string; readonly output: SkillOutput }[];

export const wordCount = (text: string): number => text.split(/\s+/).filter(Boolean).length;
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** combine shared by the counting skills: sums `words`, lists what it summed (in the order given). */
export function sumWords(outputs: Outputs): SkillOutput {
  return {
    words: outputs.reduce((sum, o) => sum + Number(o.output['words']), 0),
    inputs: outputs.map((o) => o.inputId),
  };
}

/** A promise that rejects when the task is aborted (the worker stops or times it out). */
export const aborted = (context: SkillContext) =>
  new Promise<never>((_, reject) =>
    context.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }),
  );

/**
 * Word count; remembers how often it ran (`calls`) and on which input ids (`runs`). Its combine
 * sums by default, so a combine of combines is still a sum (supervisor roll-ups).
 */
export class CountSkill implements Skill {
  readonly name = 'count';
  readonly description = 'word count (test)';
  calls = 0;
  readonly runs: string[] = [];
  constructor(private readonly combineWith: (outputs: Outputs) => SkillOutput = sumWords) {}
  async run(input: SkillInput): Promise<SkillOutput> {
    this.calls++;
    this.runs.push(input.id);
    return { words: wordCount(input.text) };
  }
  combine(outputs: Outputs): SkillOutput {
    return this.combineWith(outputs);
  }
}

/** A skill the orchestrator knows and no worker serves (a lost task): its runs would fail. */
export class UnservedSkill implements Skill {
  readonly name = 'unserved';
  readonly description = 'registered where workflows are submitted, served by no worker (test)';
  async run(): Promise<SkillOutput> {
    throw new Error('no worker should serve this skill');
  }
  combine(outputs: Outputs): SkillOutput {
    return sumWords(outputs);
  }
}

/** Word count that fails on "broken …" always and on "flaky …" at the first run of that input id. */
export class FlakySkill implements Skill {
  readonly name = 'flaky';
  readonly description = 'fails on purpose (test)';
  readonly calls = new Map<string, number>();
  async run(input: SkillInput): Promise<SkillOutput> {
    const n = (this.calls.get(input.id) ?? 0) + 1;
    this.calls.set(input.id, n);
    if (input.text.startsWith('broken')) throw new SkillInputError(this.name, `input ${input.id} is broken (run ${n})`);
    if (input.text.startsWith('flaky') && n === 1)
      throw new SkillInputError(this.name, `input ${input.id} fails its first run`);
    return { words: wordCount(input.text) };
  }
  combine(outputs: Outputs): SkillOutput {
    return sumWords(outputs);
  }
}

/** `{ ranking }` from comma-separated ids. */
export class RankSkill implements Skill {
  readonly name = 'rank';
  readonly description = 'ranked lists (test)';
  async run(input: SkillInput): Promise<SkillOutput> {
    return { ranking: input.text.split(',').map((id) => id.trim()) };
  }
  combine(outputs: Outputs): SkillOutput {
    return { rankings: outputs.map((o) => o.output['ranking']) };
  }
}

/** `{ text: "<input> <params.word>", words }`: each chain stage visibly adds to its input. */
export class AppendSkill implements Skill {
  readonly name = 'append';
  readonly description = 'appends a word (test)';
  readonly inputs: string[] = [];
  async run(input: SkillInput): Promise<SkillOutput> {
    this.inputs.push(input.text);
    const text = `${input.text} ${String(input.params?.['word'] ?? '')}`.trim();
    return { text, words: wordCount(text) };
  }
  combine(outputs: Outputs): SkillOutput {
    return { texts: outputs.map((o) => o.output['text']) };
  }
}

/** A draft scored 1 (bad) or 9 (good): "improves …" is good from its second run on, anything else never. */
export class DraftSkill implements Skill {
  readonly name = 'draft';
  readonly description = 'drafts that need a second try (test)';
  readonly calls = new Map<string, number>();
  async run(input: SkillInput): Promise<SkillOutput> {
    const n = (this.calls.get(input.id) ?? 0) + 1;
    this.calls.set(input.id, n);
    const good = input.text.startsWith('improves') && n >= 2;
    return { text: `${input.text} v${n}`, score: good ? 9 : 1 };
  }
  combine(outputs: Outputs): SkillOutput {
    return { texts: outputs.map((o) => o.output['text']) };
  }
}

/** The recovery step: repairs a rejected draft. */
export class FixSkill implements Skill {
  readonly name = 'fix';
  readonly description = 'repairs a draft (test)';
  readonly inputs: string[] = [];
  async run(input: SkillInput): Promise<SkillOutput> {
    this.inputs.push(input.text);
    return { text: `fixed(${input.text})`, score: 10 };
  }
  combine(outputs: Outputs): SkillOutput {
    return { texts: outputs.map((o) => o.output['text']) };
  }
}

/** A later stage that must never see a rejected output: records what reaches it. */
export class SinkSkill implements Skill {
  readonly name = 'sink';
  readonly description = 'records what reaches it (test)';
  readonly inputs: string[] = [];
  async run(input: SkillInput): Promise<SkillOutput> {
    this.inputs.push(input.text);
    return { text: input.text };
  }
  combine(outputs: Outputs): SkillOutput {
    return { texts: outputs.map((o) => o.output['text']) };
  }
}

export interface LedgerOptions {
  /** The store the effects go to, read at each run (undefined: the run fails, 'ledger without a store'). */
  readonly store: () => StateStore | undefined;
  /** The Redis list of effects; when omitted, each input's `params.effects`. */
  readonly effectsKey?: string;
  /** How an `op: 'hang'` run waits: until its task is aborted (default), or forever, ignoring the abort. */
  readonly hang?: 'until-aborted' | 'forever';
  readonly description?: string;
}

/**
 * A ledger with effects outside the mesh (a Redis list): each run applies its effect once per
 * task id (the idempotency key the worker passes), and every call is remembered, so the test can
 * tell effects from deliveries. `op: 'fail'` refuses the input, `op: 'hang'` never finishes.
 */
export class LedgerSkill implements Skill {
  readonly name = 'ledger';
  readonly description: string;
  readonly calls: string[] = [];
  private readonly gates = new Map<string, Promise<void>>();

  constructor(private readonly options: LedgerOptions) {
    this.description = options.description ?? 'reserve / release entries in a ledger (test)';
  }

  /** Holds runs of `op:id` until released. */
  hold(what: string): () => void {
    let release!: () => void;
    this.gates.set(what, new Promise<void>((resolve) => (release = resolve)));
    return () => release();
  }

  async run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    const op = String(input.params?.['op']);
    const what = `${op}:${input.id}`;
    this.calls.push(what);
    if (op === 'fail') throw new SkillInputError(this.name, `cannot ${input.text}`);
    if (op === 'hang') await (this.options.hang === 'forever' ? new Promise(() => undefined) : aborted(context));
    await this.gates.get(what);
    const store = this.options.store();
    if (!store) throw new Error('ledger without a store');
    const key = this.options.effectsKey ?? String(input.params?.['effects']);
    await store.applyOnce(`ledger:${String(context.taskId)}`, [{ op: 'rpush', key, value: what }]);
    return { done: what };
  }

  combine(outputs: Outputs): SkillOutput {
    return { done: outputs.map((o) => o.output['done']) };
  }
}

/** Word count, except that "hang …" inputs never finish until the test releases them (or the worker stops). */
export class HangSkill implements Skill {
  readonly name = 'hang';
  readonly description = 'hangs on purpose (test)';
  readonly hanging = new Set<string>();
  released = false;
  private open!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));
  async run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    if (input.text.startsWith('hang')) {
      this.hanging.add(input.id);
      await Promise.race([this.gate, aborted(context)]);
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
export class LabelSkill implements Skill {
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

/** Holds every run until released: the worker running it is busy (load 1) meanwhile. */
export class HoldSkill implements Skill {
  readonly name = 'hold';
  readonly description = 'holds until released (test)';
  running = 0;
  private open!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));
  async run(): Promise<SkillOutput> {
    this.running++;
    await this.gate;
    return { held: true };
  }
  release(): void {
    this.open();
  }
  combine(outputs: Outputs): SkillOutput {
    return { outputs: outputs.length };
  }
}

/** Refuses every input (a bad input: not retried). */
export class BrokenSkill implements Skill {
  readonly name = 'broken';
  readonly description = 'always refuses its input (test)';
  async run(input: SkillInput): Promise<SkillOutput> {
    throw new SkillInputError(this.name, `cannot work on ${input.id}`);
  }
  combine(outputs: Outputs): SkillOutput {
    return { outputs: outputs.length };
  }
}

/** The estimate skill, except that solver 1 refuses its task in round 2. */
export class PickySkill implements Skill {
  readonly name = 'picky';
  readonly description = 'estimate, with one refusing solver (test)';
  private readonly inner = new EstimateSkill();
  async run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    if (input.params?.['solver'] === 1 && input.params['round'] === 2)
      throw new SkillInputError(this.name, 'solver 1 sits out round 2');
    return this.inner.run(input, context);
  }
  combine(outputs: Outputs): SkillOutput {
    return this.inner.combine(outputs);
  }
}

/** Counts words, but only once its gate opens: lets the test hold tasks in flight on a worker. */
export class GatedWordCount implements Skill {
  readonly name = 'gated';
  readonly description = 'word count behind a gate (test only)';
  started = 0;
  private open!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));

  constructor(initiallyOpen: boolean) {
    if (initiallyOpen) this.open();
  }

  release(): void {
    this.open();
  }

  async run(input: SkillInput): Promise<SkillOutput> {
    this.started++;
    await this.gate;
    return { words: wordCount(input.text) };
  }

  combine(outputs: Outputs): SkillOutput {
    return sumWords(outputs);
  }
}

/**
 * A stand-in for a model-calling skill: each run reports one call of `params.tokens` tokens
 * (three quarters prompt, default 100) at $0.000001 a token through `context.recordUsage`, as
 * the LLM skill does, and answers the token count.
 */
export class MeteredSkill implements Skill {
  readonly name = 'metered';
  readonly description = 'reports model usage (test)';
  readonly runs: string[] = [];
  async run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    this.runs.push(input.id);
    const tokens = Number(input.params?.['tokens'] ?? 100);
    const promptTokens = Math.round(tokens * 0.75);
    context.recordUsage?.({
      model: 'test-model',
      promptTokens,
      completionTokens: tokens - promptTokens,
      costUsd: tokens / 1_000_000,
    });
    return { tokens, text: input.text };
  }
  combine(outputs: Outputs): SkillOutput {
    return { tokens: outputs.reduce((sum, o) => sum + Number(o.output['tokens']), 0) };
  }
}

const countTask = (id: string, text: string) => ({ kind: 'task', name: id, skill: 'count', input: { id, text } });

/** A planner (planned supervisors): its input names the plan it gives — `three counts`, `unknown kind`, `too deep` — and it remembers how often it ran per input. */
export class PlanSkill implements Skill {
  readonly name = 'plan';
  readonly description = 'gives a fixed plan per input (test)';
  readonly runs = new Map<string, number>();
  async run(input: SkillInput): Promise<SkillOutput> {
    this.runs.set(input.id, (this.runs.get(input.id) ?? 0) + 1);
    switch (input.text) {
      case 'three counts':
        return {
          children: ['one', 'one two', 'one two three'].map((text, i) => countTask(`${input.id}-c${i}`, text)),
        };
      case 'unknown kind':
        return { children: [countTask(`${input.id}-ok`, 'fine'), { kind: 'teleport', to: 'mars' }] };
      case 'too deep': {
        let step: object = countTask(`${input.id}-deep`, 'deep');
        for (let i = 0; i < 8; i++) step = { kind: 'supervisor', children: [step] };
        return { json: { children: [step] } };
      }
      default:
        return { children: [] };
    }
  }
  combine(outputs: Outputs): SkillOutput {
    return { plans: outputs.map((o) => o.output) };
  }
}

/** The judge: accepts a stage output whose `score` is at least 5; remembers what it read. */
export class ScoreJudgeSkill implements Skill {
  readonly name = 'judge';
  readonly description = 'accepts a score of 5 or more (test)';
  readonly read: string[] = [];
  async run(input: SkillInput): Promise<SkillOutput> {
    this.read.push(input.text);
    const score = Number((JSON.parse(input.text) as { score?: unknown }).score);
    return score >= 5
      ? { accept: true, reason: `score ${score} is enough` }
      : { accept: false, reason: `score ${score} is too low` };
  }
  combine(): SkillOutput {
    return {};
  }
}
