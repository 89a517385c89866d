import type { Skill, SkillContext, SkillInput, SkillOutput } from '../skill';
import { isStopword } from '../text/stopwords';
import { foldTerm, round, splitSentences, words } from '../text/text';
import { ensureNotAborted, intParam, OutputReader, requireText, type BranchOutput } from './common';

export interface ScoredSentence {
  /** Position of the sentence in its document, from 0. */
  readonly index: number;
  readonly text: string;
  readonly score: number;
}

export type SummarizeOutput = { summary: string; sentences: ScoredSentence[] };

export type CombinedSummarizeOutput = {
  /** Each input's summary in branch order. */
  summaries: { inputId: string; summary: string }[];
  /** The per-input summaries concatenated in branch order, each under a `[inputId]` heading. */
  summary: string;
  /** Summary of the whole set, re-ranked from every picked sentence. */
  corpusSummary: string;
  corpusSentences: (ScoredSentence & { inputId: string })[];
};

export const SUMMARIZE_DEFAULT_SENTENCES = 2;
export const SUMMARIZE_MAX_SENTENCES = 20;

function contentTerms(text: string): string[] {
  return words(text)
    .filter((w) => w.length >= 3 && /[a-z]/.test(w) && !isStopword(w))
    .map(foldTerm);
}

/**
 * Scores sentences by normalized word frequency: each content term's frequency in the whole
 * text divided by the most frequent term's frequency (so the top term weighs 1). A sentence
 * scores the sum of its content terms' weights divided by the square root of how many content
 * terms it has: longer sentences gain from carrying more frequent terms, but less than
 * linearly, so neither run-on sentences nor two-word fragments win by length alone.
 */
export function scoreSentences(sentences: readonly { index: number; text: string }[]): ScoredSentence[] {
  const terms = sentences.map((s) => contentTerms(s.text));
  const frequency = new Map<string, number>();
  for (const list of terms) for (const t of list) frequency.set(t, (frequency.get(t) ?? 0) + 1);
  const max = Math.max(0, ...frequency.values());
  return sentences.map((s, i) => {
    const list = terms[i];
    if (list.length === 0 || max === 0) return { index: s.index, text: s.text, score: 0 };
    const sum = list.reduce((acc, t) => acc + (frequency.get(t) ?? 0) / max, 0);
    return { index: s.index, text: s.text, score: round(sum / Math.sqrt(list.length), 4) };
  });
}

/** The `count` best sentences (ties to the earlier one), returned in their original order. */
export function pickTop<T extends { index: number; score: number }>(
  scored: readonly T[],
  count: number,
  order: (a: T, b: T) => number,
): T[] {
  return [...scored]
    .sort((a, b) => b.score - a.score || order(a, b))
    .slice(0, count)
    .sort(order);
}

const byIndex = (a: { index: number }, b: { index: number }): number => a.index - b.index;

/** A sentence that ends like one; titles and headings (no final punctuation) do not. */
const TERMINATED = /[.!?]["')\]\u201D]*$/;

/**
 * Summarizes one text. All sentences feed the term frequencies (a title's words are a good
 * hint of the topic), but headings are only picked when the text has no real sentences.
 */
export function summarizeText(text: string, count: number): SummarizeOutput {
  const scored = scoreSentences(splitSentences(text));
  const prose = scored.filter((s) => TERMINATED.test(s.text));
  const picked = pickTop(prose.length > 0 ? prose : scored, count, byIndex);
  return { summary: picked.map((s) => s.text).join(' '), sentences: picked };
}

export class SummarizeSkill implements Skill {
  readonly name = 'summarize';
  readonly description =
    "Extractive summary: picks the sentences richest in the text's most frequent content words, in original order. " +
    `Param: sentences (integer 1..${SUMMARIZE_MAX_SENTENCES}, default ${SUMMARIZE_DEFAULT_SENTENCES}).`;

  async run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    ensureNotAborted(context);
    const text = requireText(this.name, input);
    const count = intParam(this.name, input, 'sentences', SUMMARIZE_DEFAULT_SENTENCES, 1, SUMMARIZE_MAX_SENTENCES);
    const output: SummarizeOutput = summarizeText(text, count);
    return output;
  }

  /**
   * Per-input summaries are kept and concatenated in branch order under their input ids. The
   * corpus summary re-scores every picked sentence against term frequencies over all picked
   * sentences (so themes shared across documents rise) and keeps as many as the largest
   * per-input pick, ordered by branch, then position in the document.
   */
  combine(outputs: readonly BranchOutput[]): SkillOutput {
    const summaries: { inputId: string; summary: string }[] = [];
    const pool: { inputId: string; index: number; text: string }[] = [];
    let limit = 0;
    for (const branch of outputs) {
      const reader = new OutputReader(this.name, branch);
      const summary = reader.string('summary');
      const sentences = reader.records('sentences');
      summaries.push({ inputId: branch.inputId, summary });
      limit = Math.max(limit, sentences.length);
      for (const s of sentences) {
        pool.push({ inputId: branch.inputId, index: reader.number('index', s), text: reader.string('text', s) });
      }
    }
    // Score the pool as one text; `index` there is the position in the pool.
    const scored = scoreSentences(pool.map((p, i) => ({ index: i, text: p.text })));
    const candidates = scored.map((s) => ({ ...pool[s.index], position: s.index, score: s.score }));
    const picked = pickTop(candidates, limit, (a, b) => a.position - b.position);
    const result: CombinedSummarizeOutput = {
      summaries,
      summary: summaries.map((s) => `[${s.inputId}] ${s.summary}`).join('\n\n'),
      corpusSummary: picked.map((p) => p.text).join(' '),
      corpusSentences: picked.map((p) => ({ inputId: p.inputId, index: p.index, text: p.text, score: p.score })),
    };
    return result;
  }
}
