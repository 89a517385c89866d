import {
  createDefaultSkillRegistry,
  SkillInputError,
  type Skill,
  type SkillContext,
  type SkillInput,
  type SkillOutput,
  type SkillRegistry,
} from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';

/*
 * The fault suite's skills. They run in separate worker processes that the suite SIGKILLs, so
 * everything they remember lives in the suite's own Redis: the effect ledger and the run counts
 * that make "fails its first run" work across processes.
 *
 * The effect ledger models an outside service that takes an idempotency key (the work key the
 * worker passes, SkillContext.workKey: the same for every attempt of a step or branch): an effect
 * is applied at most once per key (the `first` hash, written once per key — HSETNX-style, with
 * applyOnce), and every first application adds one to the count of its unit of work (`applied`,
 * by `<workflow id>/<skill>:<input id>`). A unit of work applied under two keys — the same work
 * re-assigned under a new idempotency key — is a duplicate effect. Every delivery of a task to
 * a skill is counted too (`runs`, by task id), so redeliveries show as runs, not as effects.
 */

export const LEDGER_KEYS = {
  /** work key → `<skill>:<input id>`, written once: the first application. */
  first: 'fx:first',
  /** `<workflow id>/<skill>:<input id>` → applications (first applications under distinct work keys). */
  applied: 'fx:applied',
  /** task id → deliveries to a skill (a redelivered task runs again; its effect stays once). */
  runs: 'fx:runs',
  /** input id → runs, for skills whose answer depends on the run (flaky, draft). */
  inputRuns: 'fx:input-runs',
  /** task id → deliveries to a skill in one region (its workers' MESH_REGION): the geo suite's. */
  runsIn: (region: string) => `fx:runs:${region}`,
} as const;

export type Outputs = readonly { readonly inputId: string; readonly output: SkillOutput }[];

const words = (text: string): number => text.split(/\s+/).filter(Boolean).length;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * How long a skill works before it applies its effect (and a third of it after): long enough
 * that a killed worker is often in the middle of a task, with or without its effect applied.
 */
const WORK_MS = 150;

function sumWords(outputs: Outputs): SkillOutput {
  return {
    words: outputs.reduce((sum, o) => sum + Number(o.output['words']), 0),
    inputs: outputs.map((o) => o.inputId),
  };
}

/** Reads and writes the ledger; `store` is connected lazily (the first run), and again after a failure. */
export class EffectLedger {
  private connecting?: Promise<StateStore>;

  /** `region`: the region of the workers that run the skills (MESH_REGION), counted apart in `runsIn`. */
  constructor(
    private readonly connect: () => Promise<StateStore>,
    private readonly region?: string,
  ) {}

  private store(): Promise<StateStore> {
    this.connecting ??= this.connect().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }

  /** Counts a delivery of a task to a skill. */
  async delivered(context: SkillContext): Promise<void> {
    const store = await this.store();
    const taskId = taskIdOf(context);
    await store.apply([
      { op: 'hincrby', key: LEDGER_KEYS.runs, field: taskId, by: 1 },
      ...(this.region ? [{ op: 'hincrby' as const, key: LEDGER_KEYS.runsIn(this.region), field: taskId, by: 1 }] : []),
    ]);
  }

  /** The how-manieth run of this input this is (1 for the first). */
  async inputRun(skill: string, input: SkillInput): Promise<number> {
    const store = await this.store();
    const [n] = await store.apply([
      { op: 'hincrby', key: LEDGER_KEYS.inputRuns, field: `${skill}:${input.id}`, by: 1 },
    ]);
    return Number(n);
  }

  /**
   * Applies the effect of `what` (`<skill>:<input id>`) once per work key, counted for its unit of
   * work: `what` in the workflow the key names (`<workflow id>:…`) — a chain's later stages
   * all take input ids such as `root.stages.0.text`, the same in every workflow.
   */
  async apply(what: string, context: SkillContext): Promise<void> {
    const store = await this.store();
    const key = context.workKey ?? taskIdOf(context);
    const unit = `${key.split(':')[0]}/${what}`;
    await store.applyOnce(`fx:${key}`, [
      { op: 'hsetnx', key: LEDGER_KEYS.first, field: key, value: what },
      { op: 'hincrby', key: LEDGER_KEYS.applied, field: unit, by: 1 },
    ]);
  }
}

function taskIdOf(context: SkillContext): string {
  if (!context.taskId) throw new Error('a fault-suite skill needs the task id (its idempotency key)');
  return context.taskId;
}

/** A skill whose successful runs apply one effect each, `<name>:<input id>`. */
abstract class LedgerSkillBase implements Skill {
  abstract readonly name: string;
  abstract readonly description: string;

  constructor(protected readonly ledger: EffectLedger) {}

  async run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    await this.ledger.delivered(context);
    const output = await this.work(input, context);
    await sleep(WORK_MS); // a kill can land before the effect…
    if (this.hasEffect(input)) await this.ledger.apply(`${this.name}:${input.id}`, context);
    await sleep(WORK_MS / 3); // …or after it, before the result is out
    return output;
  }

  protected hasEffect(_input: SkillInput): boolean {
    return true;
  }

  protected abstract work(input: SkillInput, context: SkillContext): Promise<SkillOutput>;
  abstract combine(outputs: Outputs): SkillOutput;
}

/** Word count. */
export class CountSkill extends LedgerSkillBase {
  readonly name = 'count';
  readonly description = 'word count (fault suite)';
  protected async work(input: SkillInput): Promise<SkillOutput> {
    return { words: words(input.text) };
  }
  combine(outputs: Outputs): SkillOutput {
    return sumWords(outputs);
  }
}

/** Word count that refuses "broken …" always and "flaky …" at the first run of that input id. */
export class FlakySkill extends LedgerSkillBase {
  readonly name = 'flaky';
  readonly description = 'fails on purpose (fault suite)';
  protected async work(input: SkillInput): Promise<SkillOutput> {
    if (input.text.startsWith('broken')) throw new SkillInputError(this.name, `input ${input.id} is broken`);
    if (input.text.startsWith('flaky') && (await this.ledger.inputRun(this.name, input)) === 1)
      throw new SkillInputError(this.name, `input ${input.id} fails its first run`);
    return { words: words(input.text) };
  }
  combine(outputs: Outputs): SkillOutput {
    return sumWords(outputs);
  }
}

/** `{ label }` from "<label>" or "<label> after <ms>". */
export class LabelSkill extends LedgerSkillBase {
  readonly name = 'label';
  readonly description = 'labels (fault suite)';
  protected async work(input: SkillInput): Promise<SkillOutput> {
    const match = /^(\S+)(?: after (\d+))?$/.exec(input.text.trim());
    if (!match) throw new SkillInputError(this.name, `cannot read ${input.text}`);
    if (match[2]) await sleep(Number(match[2]));
    return { label: match[1] };
  }
  combine(outputs: Outputs): SkillOutput {
    return { labels: outputs.map((o) => o.output['label']) };
  }
}

/** `{ ranking }` from comma-separated ids. */
export class RankSkill extends LedgerSkillBase {
  readonly name = 'rank';
  readonly description = 'ranked lists (fault suite)';
  protected async work(input: SkillInput): Promise<SkillOutput> {
    return { ranking: input.text.split(',').map((id) => id.trim()) };
  }
  combine(outputs: Outputs): SkillOutput {
    return { rankings: outputs.map((o) => o.output['ranking']) };
  }
}

/** `{ text: "<input> <params.word>", words }`. */
export class AppendSkill extends LedgerSkillBase {
  readonly name = 'append';
  readonly description = 'appends a word (fault suite)';
  protected async work(input: SkillInput): Promise<SkillOutput> {
    const text = `${input.text} ${String(input.params?.['word'] ?? '')}`.trim();
    return { text, words: words(text) };
  }
  combine(outputs: Outputs): SkillOutput {
    return { texts: outputs.map((o) => o.output['text']) };
  }
}

/**
 * A draft scored 1 (bad) or 9 (good): "improves …" is good from its second run on. No effect: a
 * chain gate's retry runs it again on purpose (and a redelivery may count as a run).
 */
export class DraftSkill extends LedgerSkillBase {
  readonly name = 'draft';
  readonly description = 'drafts that need a second try (fault suite)';
  protected async work(input: SkillInput): Promise<SkillOutput> {
    const n = await this.ledger.inputRun(this.name, input);
    return { text: `${input.text} v${n}`, score: input.text.startsWith('improves') && n >= 2 ? 9 : 1 };
  }
  protected override hasEffect(): boolean {
    return false;
  }
  combine(outputs: Outputs): SkillOutput {
    return { texts: outputs.map((o) => o.output['text']) };
  }
}

/** Repairs a rejected draft. */
export class FixSkill extends LedgerSkillBase {
  readonly name = 'fix';
  readonly description = 'repairs a draft (fault suite)';
  protected async work(input: SkillInput): Promise<SkillOutput> {
    return { text: `fixed(${input.text})`, score: 10 };
  }
  combine(outputs: Outputs): SkillOutput {
    return { texts: outputs.map((o) => o.output['text']) };
  }
}

/** Saga steps: `params.op` reserve / charge / release apply `book:<op>:<input id>`; `fail` refuses. */
export class BookSkill implements Skill {
  readonly name = 'book';
  readonly description = 'reserve / release entries (fault suite)';
  constructor(private readonly ledger: EffectLedger) {}
  async run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    await this.ledger.delivered(context);
    const op = String(input.params?.['op']);
    if (op === 'fail') throw new SkillInputError(this.name, `cannot ${input.text}`);
    const what = `${op}:${input.id}`;
    await sleep(WORK_MS);
    await this.ledger.apply(`book:${what}`, context);
    await sleep(WORK_MS / 3);
    return { done: what };
  }
  combine(outputs: Outputs): SkillOutput {
    return { done: outputs.map((o) => o.output['done']) };
  }
}

/** The built-in skills plus the suite's, each writing to `ledger`. */
export function faultSkillRegistry(ledger: EffectLedger): SkillRegistry {
  const registry = createDefaultSkillRegistry();
  for (const skill of [
    new CountSkill(ledger),
    new FlakySkill(ledger),
    new LabelSkill(ledger),
    new RankSkill(ledger),
    new AppendSkill(ledger),
    new DraftSkill(ledger),
    new FixSkill(ledger),
    new BookSkill(ledger),
  ]) {
    registry.register(skill);
  }
  return registry;
}
