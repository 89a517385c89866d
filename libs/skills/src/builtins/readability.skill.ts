import { SkillInputError, type Skill, type SkillContext, type SkillInput, type SkillOutput } from '../skill';
import { countSyllables, letterWords, round, splitSentences } from '../text/text';
import { ensureNotAborted, OutputReader, requireText, type BranchOutput } from './common';

export type ReadabilityOutput = {
  words: number;
  sentences: number;
  syllables: number;
  /** 206.835 − 1.015 × (words / sentences) − 84.6 × (syllables / words); higher is easier. */
  fleschReadingEase: number;
  /** 0.39 × (words / sentences) + 11.8 × (syllables / words) − 15.59; a US school grade. */
  fleschKincaidGrade: number;
};

export type CombinedReadabilityOutput = {
  inputs: number;
  words: number;
  sentences: number;
  syllables: number;
  /** Averages of the per-input scores weighted by each input's word count. */
  fleschReadingEase: number;
  fleschKincaidGrade: number;
  /** The hardest input (lowest reading ease; first in branch order on ties). */
  min: { inputId: string; fleschReadingEase: number; fleschKincaidGrade: number } | null;
  /** The easiest input (highest reading ease; first in branch order on ties). */
  max: { inputId: string; fleschReadingEase: number; fleschKincaidGrade: number } | null;
};

export function readabilityOf(text: string): ReadabilityOutput | null {
  const sentences = splitSentences(text).filter((s) => letterWords(s.text).length > 0).length;
  const tokens = letterWords(text);
  if (tokens.length === 0 || sentences === 0) return null;
  const syllables = tokens.reduce((acc, w) => acc + countSyllables(w), 0);
  const wordsPerSentence = tokens.length / sentences;
  const syllablesPerWord = syllables / tokens.length;
  return {
    words: tokens.length,
    sentences,
    syllables,
    fleschReadingEase: round(206.835 - 1.015 * wordsPerSentence - 84.6 * syllablesPerWord, 2),
    fleschKincaidGrade: round(0.39 * wordsPerSentence + 11.8 * syllablesPerWord - 15.59, 2),
  };
}

export class ReadabilitySkill implements Skill {
  readonly name = 'readability';
  readonly description =
    'Flesch reading ease and Flesch-Kincaid grade level, with word, sentence and (heuristic) syllable counts.';

  async run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    ensureNotAborted(context);
    const text = requireText(this.name, input);
    const output = readabilityOf(text);
    if (!output) throw new SkillInputError(this.name, `input ${input.id}: text has no words`);
    return output;
  }

  /**
   * Totals of words, sentences and syllables; reading ease and grade are averages of the
   * per-input scores weighted by word count; `min`/`max` name the hardest and easiest input.
   */
  combine(outputs: readonly BranchOutput[]): SkillOutput {
    let words = 0;
    let sentences = 0;
    let syllables = 0;
    let easeSum = 0;
    let gradeSum = 0;
    let min: CombinedReadabilityOutput['min'] = null;
    let max: CombinedReadabilityOutput['max'] = null;
    for (const branch of outputs) {
      const reader = new OutputReader(this.name, branch);
      const w = reader.number('words');
      const ease = reader.number('fleschReadingEase');
      const grade = reader.number('fleschKincaidGrade');
      words += w;
      sentences += reader.number('sentences');
      syllables += reader.number('syllables');
      easeSum += ease * w;
      gradeSum += grade * w;
      const entry = { inputId: branch.inputId, fleschReadingEase: ease, fleschKincaidGrade: grade };
      if (!min || ease < min.fleschReadingEase) min = entry;
      if (!max || ease > max.fleschReadingEase) max = entry;
    }
    const result: CombinedReadabilityOutput = {
      inputs: outputs.length,
      words,
      sentences,
      syllables,
      fleschReadingEase: words > 0 ? round(easeSum / words, 2) : 0,
      fleschKincaidGrade: words > 0 ? round(gradeSum / words, 2) : 0,
      min,
      max,
    };
    return result;
  }
}
