import type { Skill, SkillContext, SkillInput, SkillOutput } from '../skill';
import { isStopword } from '../text/stopwords';
import { foldTerm, round, words } from '../text/text';
import { ensureNotAborted, intParam, OutputReader, requireText, type BranchOutput } from './common';

export interface Keyword {
  readonly term: string;
  /** Normalized term frequency: occurrences / content words in the document. */
  readonly score: number;
}

export type KeywordsOutput = { keywords: Keyword[] };

export interface CombinedKeyword {
  readonly term: string;
  /** Sum of the term's per-document scores. */
  readonly score: number;
  /** How many inputs listed the term. */
  readonly documents: number;
  readonly inputIds: string[];
}

export type CombinedKeywordsOutput = {
  keywords: CombinedKeyword[];
  perInput: { inputId: string; keywords: number }[];
};

export const KEYWORDS_DEFAULT_TOP = 8;
export const KEYWORDS_MAX_TOP = 50;

/** Punctuation that ends a phrase: two content words either side of it are not a bigram. */
const PHRASE_BREAK = /[.,;:!?()[\]{}"\u201C\u201D\u2014\u2013/]|\s-+\s|\n/;

interface TermStats {
  count: number;
  /** Surface forms seen (before plural folding) and how often, to pick a display form. */
  readonly surfaces: Map<string, number>;
  readonly parts: readonly string[];
}

function isContentWord(word: string): boolean {
  return word.length >= 3 && /[a-z]/.test(word) && !isStopword(word);
}

function bump(stats: Map<string, TermStats>, key: string, surface: string, parts: readonly string[]): void {
  let entry = stats.get(key);
  if (!entry) {
    entry = { count: 0, surfaces: new Map(), parts };
    stats.set(key, entry);
  }
  entry.count += 1;
  entry.surfaces.set(surface, (entry.surfaces.get(surface) ?? 0) + 1);
}

/** Most frequent surface form; ties go to the shorter, then alphabetically first. */
function displayForm(entry: TermStats): string {
  return [...entry.surfaces.entries()].sort(
    ([a, ca], [b, cb]) => cb - ca || a.length - b.length || (a < b ? -1 : a > b ? 1 : 0),
  )[0][0];
}

/**
 * Term-frequency keyword extraction. Candidates are content words (three or more characters,
 * not stopwords, with plurals folded) and two-word phrases of adjacent content words that occur
 * at least twice. Each candidate scores occurrences / content words in the document, so scores
 * are comparable across documents of different lengths. A single word that only ever occurs
 * inside one kept phrase is dropped in favour of the phrase.
 */
export function extractKeywords(text: string, top: number): Keyword[] {
  const unigrams = new Map<string, TermStats>();
  const bigrams = new Map<string, TermStats>();
  let contentWords = 0;
  for (const chunk of text.split(PHRASE_BREAK)) {
    let previous: { key: string; surface: string } | undefined;
    for (const word of words(chunk)) {
      if (!isContentWord(word)) {
        previous = undefined;
        continue;
      }
      const surface = word.endsWith("'s") ? word.slice(0, -2) : word;
      const key = foldTerm(word);
      contentWords += 1;
      bump(unigrams, key, surface, [key]);
      if (previous) bump(bigrams, `${previous.key} ${key}`, `${previous.surface} ${surface}`, [previous.key, key]);
      previous = { key, surface };
    }
  }
  if (contentWords === 0) return [];

  const candidates: { term: string; count: number; size: number }[] = [];
  const subsumed = new Set<string>();
  for (const entry of bigrams.values()) {
    if (entry.count < 2) continue;
    candidates.push({ term: displayForm(entry), count: entry.count, size: 2 });
    for (const part of entry.parts) if (unigrams.get(part)?.count === entry.count) subsumed.add(part);
  }
  for (const [key, entry] of unigrams) {
    if (!subsumed.has(key)) candidates.push({ term: displayForm(entry), count: entry.count, size: 1 });
  }
  candidates.sort((a, b) => b.count - a.count || b.size - a.size || (a.term < b.term ? -1 : a.term > b.term ? 1 : 0));
  return candidates.slice(0, top).map((c) => ({ term: c.term, score: round(c.count / contentWords, 4) }));
}

export class KeywordsSkill implements Skill {
  readonly name = 'keywords';
  readonly description =
    'Extracts the most frequent content words and repeated two-word phrases (stopwords removed, plurals folded). ' +
    `Param: top (integer 1..${KEYWORDS_MAX_TOP}, default ${KEYWORDS_DEFAULT_TOP}).`;

  async run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    ensureNotAborted(context);
    const text = requireText(this.name, input);
    const top = intParam(this.name, input, 'top', KEYWORDS_DEFAULT_TOP, 1, KEYWORDS_MAX_TOP);
    const output: KeywordsOutput = { keywords: extractKeywords(text, top) };
    return output;
  }

  /**
   * Merge rule: a term's overall score is the sum of its per-document scores (each already
   * normalized by its document's length, so a long document does not outweigh a short one just
   * by size; a term listed by several documents gains from each). Ties go to the term listed
   * by more documents, then alphabetical order. The result keeps as many terms as the longest
   * per-input list (that is, the requested `top` unless every document was short). `perInput`
   * gives how many keywords each input contributed, in branch order.
   */
  combine(outputs: readonly BranchOutput[]): SkillOutput {
    const merged = new Map<string, { score: number; inputIds: string[] }>();
    const perInput: { inputId: string; keywords: number }[] = [];
    let limit = 0;
    for (const branch of outputs) {
      const reader = new OutputReader(this.name, branch);
      const keywords = reader.records('keywords');
      limit = Math.max(limit, keywords.length);
      perInput.push({ inputId: branch.inputId, keywords: keywords.length });
      for (const keyword of keywords) {
        const term = reader.string('term', keyword);
        const score = reader.number('score', keyword);
        const entry = merged.get(term) ?? { score: 0, inputIds: [] };
        entry.score += score;
        if (!entry.inputIds.includes(branch.inputId)) entry.inputIds.push(branch.inputId);
        merged.set(term, entry);
      }
    }
    const keywords: CombinedKeyword[] = [...merged.entries()]
      .map(([term, e]) => ({ term, score: round(e.score, 4), documents: e.inputIds.length, inputIds: e.inputIds }))
      .sort(
        (a, b) => b.score - a.score || b.documents - a.documents || (a.term < b.term ? -1 : a.term > b.term ? 1 : 0),
      )
      .slice(0, limit);
    const result: CombinedKeywordsOutput = { keywords, perInput };
    return result;
  }
}
