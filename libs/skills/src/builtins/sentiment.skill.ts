import type { Skill, SkillContext, SkillInput, SkillOutput } from '../skill';
import { SENTIMENT_LEXICON } from '../text/sentiment-lexicon';
import { round, words } from '../text/text';
import { ensureNotAborted, OutputReader, requireText, type BranchOutput } from './common';

export type SentimentLabel = 'positive' | 'negative' | 'neutral';

export type SentimentOutput = {
  /** Sum of the weights of the lexicon words found (negated ones with their sign flipped). */
  score: number;
  /** score / number of words. */
  comparative: number;
  label: SentimentLabel;
  /** Words (or "not good"-style negated phrases) that pushed the score up, first occurrence order. */
  positive: string[];
  negative: string[];
};

export type CombinedSentimentOutput = {
  inputs: number;
  /** Unweighted mean of the inputs' comparative scores. */
  meanComparative: number;
  /** Label of the mean comparative score. */
  label: SentimentLabel;
  labels: Record<SentimentLabel, number>;
  perInput: { inputId: string; score: number; comparative: number; label: SentimentLabel }[];
};

/** How many following words a negator reaches (within the same clause). */
export const NEGATION_WINDOW = 3;

/** Clause punctuation ends a negation's reach: in "not cheap, but lovely", "lovely" stays positive. */
const CLAUSE_BREAK = /[.,;:!?()[\]\u2014\u2013"\u201C\u201D]|\n/;

function isNegator(word: string): boolean {
  return word === 'not' || word === 'never' || word === 'no' || word === 'cannot' || word.endsWith("n't");
}

function labelOf(value: number): SentimentLabel {
  return value > 0 ? 'positive' : value < 0 ? 'negative' : 'neutral';
}

export function analyzeSentiment(
  text: string,
  lexicon: ReadonlyMap<string, number> = SENTIMENT_LEXICON.weights,
): SentimentOutput {
  let score = 0;
  let wordCount = 0;
  const positive: string[] = [];
  const negative: string[] = [];
  for (const clause of text.split(CLAUSE_BREAK)) {
    // The negator and how many words remain in its reach.
    let negator: string | undefined;
    let reach = 0;
    for (const word of words(clause)) {
      wordCount += 1;
      if (isNegator(word)) {
        negator = word;
        reach = NEGATION_WINDOW;
        continue;
      }
      const weight = lexicon.get(word);
      const negated = reach > 0;
      reach = Math.max(0, reach - 1);
      if (weight === undefined) continue;
      const value = negated ? -weight : weight;
      const label = negated ? `${negator} ${word}` : word;
      score += value;
      const list = value > 0 ? positive : negative;
      if (!list.includes(label)) list.push(label);
    }
  }
  const comparative = wordCount > 0 ? round(score / wordCount, 4) : 0;
  return { score, comparative, label: labelOf(score), positive, negative };
}

export class SentimentSkill implements Skill {
  readonly name = 'sentiment';
  readonly description =
    'Lexicon-based sentiment (word weights −5..+5; "not", "never", "no" and "n\'t" flip the next three words of the clause).';

  async run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    ensureNotAborted(context);
    const output: SentimentOutput = analyzeSentiment(requireText(this.name, input));
    return output;
  }

  /** Mean of the per-input comparative scores (each input counts once) and label counts. */
  combine(outputs: readonly BranchOutput[]): SkillOutput {
    const labels: Record<SentimentLabel, number> = { positive: 0, negative: 0, neutral: 0 };
    const perInput: CombinedSentimentOutput['perInput'] = [];
    let sum = 0;
    for (const branch of outputs) {
      const reader = new OutputReader(this.name, branch);
      const score = reader.number('score');
      const comparative = reader.number('comparative');
      const label = labelOf(score);
      labels[label] += 1;
      sum += comparative;
      perInput.push({ inputId: branch.inputId, score, comparative, label });
    }
    const meanComparative = outputs.length > 0 ? round(sum / outputs.length, 4) : 0;
    const result: CombinedSentimentOutput = {
      inputs: outputs.length,
      meanComparative,
      label: labelOf(meanComparative),
      labels,
      perInput,
    };
    return result;
  }
}
