import { ensureNotAborted, intParam, OutputReader, requireText, type BranchOutput } from '../builtins/common';
import { SkillInputError, type Skill, type SkillContext, type SkillInput, type SkillOutput } from '../skill';
import { round, splitSentences, words } from '../text/text';

export type EstimateLabel = 'short' | 'medium' | 'long';

export type EstimateOutput = {
  /** The estimated word count of the text. */
  answer: number;
  label: EstimateLabel;
  round: number;
  solver: number;
};

export type CombinedEstimateOutput = {
  /** The median of the answers (the mean of the two middle ones for an even count). */
  answer: number;
  label: EstimateLabel;
  /** How many answers were combined. */
  count: number;
};

/** Answers below this many words are `short`. */
export const SHORT_BELOW = 100;
/** Answers below this many words (and not short) are `medium`; the rest are `long`. */
export const MEDIUM_BELOW = 500;

export function estimateLabel(answer: number): EstimateLabel {
  return answer < SHORT_BELOW ? 'short' : answer < MEDIUM_BELOW ? 'medium' : 'long';
}

/** The median of a non-empty list (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * A solver's own estimate of the word count, with its systematic bias: solver `i` reads only
 * every (i+1)-th sentence (sentences 0, i+1, 2(i+1), …), takes their mean length in words and
 * multiplies it by the number of sentences. Solver 0 reads every sentence, so it counts exactly.
 * Sentences without a word are not counted. Rounded to 2 decimals.
 */
export function ownEstimate(text: string, solver: number): number {
  const lengths = splitSentences(text)
    .map((s) => words(s.text).length)
    .filter((n) => n > 0);
  if (lengths.length === 0) throw new SkillInputError('estimate', 'text has no words');
  const sample = lengths.filter((_, i) => i % (solver + 1) === 0);
  const mean = sample.reduce((sum, n) => sum + n, 0) / sample.length;
  return round(mean * lengths.length, 2);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The answers of the other solvers in `params.peers` (entries whose `solver` is this one are left out). */
function peerAnswers(input: SkillInput, solver: number): number[] {
  const peers = input.params?.['peers'];
  if (peers === undefined) return [];
  if (!Array.isArray(peers)) throw new SkillInputError('estimate', 'param "peers" must be a list of previous answers');
  const answers: number[] = [];
  peers.forEach((peer: unknown, i) => {
    if (!isRecord(peer) || typeof peer['answer'] !== 'number' || !Number.isFinite(peer['answer'])) {
      throw new SkillInputError('estimate', `param "peers[${i}]" must be an object with a numeric "answer"`);
    }
    if (peer['solver'] === solver) return;
    answers.push(peer['answer']);
  });
  return answers;
}

/**
 * A solver for the solver-rounds pattern: estimates how many words a text has.
 *
 * - Round 1: `answer` = the solver's own (biased) estimate, {@link ownEstimate}.
 * - Round r > 1: `answer = round((own + median(peers)) / 2, 2)`, where `peers` are the other
 *   solvers' answers of the previous round (`params.peers`, as the market maker passes them;
 *   this solver's own previous answer is left out). With no peers the answer is `own`.
 *
 * Params: `round` (from 1, default 1), `solver` (from 0, default 0), `peers` (list of previous
 * outputs). `label` buckets the answer: short (< 100 words), medium (< 500), long.
 * `combine` is the median of the answers.
 */
export class EstimateSkill implements Skill {
  readonly name = 'estimate';
  readonly description =
    'Estimates the word count of a text from a sample of its sentences (solver i reads every (i+1)-th sentence); in later rounds moves halfway toward the median of the other solvers’ answers.';

  async run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    ensureNotAborted(context);
    const text = requireText(this.name, input);
    const roundNo = intParam(this.name, input, 'round', 1, 1, 1000);
    const solver = intParam(this.name, input, 'solver', 0, 0, 1000);
    const peers = peerAnswers(input, solver);
    const own = ownEstimate(text, solver);
    const answer = roundNo > 1 && peers.length > 0 ? round((own + median(peers)) / 2, 2) : own;
    const output: EstimateOutput = { answer, label: estimateLabel(answer), round: roundNo, solver };
    return output;
  }

  /** The median of every answer. */
  combine(outputs: readonly BranchOutput[]): SkillOutput {
    const answers = outputs.map((branch) => new OutputReader(this.name, branch).number('answer'));
    const answer = answers.length === 0 ? 0 : round(median(answers), 2);
    const result: CombinedEstimateOutput = { answer, label: estimateLabel(answer), count: answers.length };
    return result;
  }
}
