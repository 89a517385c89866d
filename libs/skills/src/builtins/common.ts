import { SkillInputError, type SkillContext, type SkillInput, type SkillOutput } from '../skill';

/** One branch output as the aggregator passes it to `combine`. */
export type BranchOutput = { readonly inputId: string; readonly output: SkillOutput };

/** Throws the signal's reason when the task was aborted before the skill started. */
export function ensureNotAborted(context: SkillContext): void {
  context.signal.throwIfAborted();
}

/** The input text, or SkillInputError when it is missing, not a string or only whitespace. */
export function requireText(skill: string, input: SkillInput): string {
  const text: unknown = input.text;
  if (typeof text !== 'string') throw new SkillInputError(skill, `input ${input.id}: text must be a string`);
  if (text.trim().length === 0) throw new SkillInputError(skill, `input ${input.id}: text is empty`);
  return text;
}

/** An optional integer parameter in [min, max]; anything else is a SkillInputError. */
export function intParam(
  skill: string,
  input: SkillInput,
  key: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const params: unknown = input.params;
  if (params === undefined || params === null) return fallback;
  if (typeof params !== 'object' || Array.isArray(params)) {
    throw new SkillInputError(skill, 'params must be an object');
  }
  const value = (params as Record<string, unknown>)[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new SkillInputError(
      skill,
      `param "${key}" must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * Field readers for `combine`: outputs come back from the bus as plain JSON, so each skill
 * checks the shape it produced and fails loudly (a programming error, not bad user input).
 */
export class OutputReader {
  constructor(
    private readonly skill: string,
    private readonly branch: BranchOutput,
  ) {}

  number(key: string, from: Readonly<Record<string, unknown>> = this.branch.output): number {
    const value = from[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(`"${key}" is not a finite number`);
    return value;
  }

  string(key: string, from: Readonly<Record<string, unknown>> = this.branch.output): string {
    const value = from[key];
    if (typeof value !== 'string') this.fail(`"${key}" is not a string`);
    return value;
  }

  records(key: string, from: Readonly<Record<string, unknown>> = this.branch.output): Record<string, unknown>[] {
    const value = from[key];
    if (!Array.isArray(value)) this.fail(`"${key}" is not an array`);
    return value.map((item: unknown, i) => {
      if (item === null || typeof item !== 'object' || Array.isArray(item))
        this.fail(`"${key}[${i}]" is not an object`);
      return item as Record<string, unknown>;
    });
  }

  strings(key: string, from: Readonly<Record<string, unknown>> = this.branch.output): string[] {
    const value = from[key];
    if (!Array.isArray(value) || !value.every((v: unknown) => typeof v === 'string')) {
      this.fail(`"${key}" is not an array of strings`);
    }
    return value as string[];
  }

  private fail(problem: string): never {
    throw new Error(`${this.skill}.combine: output of input ${this.branch.inputId} is malformed: ${problem}`);
  }
}
