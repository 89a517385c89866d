/**
 * Small, dependency-free English text helpers shared by the built-in skills: word tokens,
 * sentence splitting, a syllable heuristic and a light plural folding for term counting.
 */

/** Curly apostrophes become straight ones so that "don’t" and "don't" are the same token. */
export function normalizeApostrophes(text: string): string {
  return text.replace(/[\u2018\u2019\u02BC]/g, "'");
}

const WORD_RE = /[a-z0-9]+(?:'[a-z0-9]+)*/g;

/** Lower-cased word tokens (letters/digits with inner apostrophes; hyphens split words). */
export function words(text: string): string[] {
  return normalizeApostrophes(text).toLowerCase().match(WORD_RE) ?? [];
}

/** Word tokens that contain at least one letter (what readability formulas count as words). */
export function letterWords(text: string): string[] {
  return words(text).filter((w) => /[a-z]/.test(w));
}

export interface Sentence {
  /** Position of the sentence in the text, from 0. */
  readonly index: number;
  readonly text: string;
}

/**
 * Abbreviations whose trailing period almost never ends a sentence. Ones that often do end
 * sentences ("etc.", "Inc.", "p.m.") are left to the "next word starts lower-case" rule.
 */
const ABBREVIATIONS: ReadonlySet<string> = new Set([
  'mr',
  'mrs',
  'ms',
  'dr',
  'prof',
  'sr',
  'jr',
  'st',
  'mt',
  'rev',
  'hon',
  'gen',
  'col',
  'capt',
  'lt',
  'sgt',
  'vs',
  'cf',
  'fig',
  'figs',
  'no',
  'nos',
  'vol',
  'approx',
  'dept',
  'est',
  'ca',
  'pp',
]);

function isAbbreviation(token: string): boolean {
  const bare = token.replace(/^[("'\u201C[]+/, '');
  if (bare.length === 0) return false;
  // A single capital initial, as in "J. R. Smith".
  if (/^[A-Z]$/.test(bare)) return true;
  const lower = bare.toLowerCase();
  // Dotted forms such as "e.g", "i.e", "U.S" (the final period is the one being tested).
  if (/^(?:[a-z]\.)+[a-z]$/.test(lower)) return true;
  return ABBREVIATIONS.has(lower);
}

/**
 * Splits text into sentences. Blank lines always end a sentence (so headings stand alone);
 * "!" and "?" end a sentence; a period ends one unless it closes a known abbreviation or the
 * next word starts with a lower-case letter.
 */
export function splitSentences(text: string): Sentence[] {
  const out: string[] = [];
  const paragraphs = normalizeApostrophes(text)
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n/);
  for (const raw of paragraphs) {
    const paragraph = raw.replace(/\s+/g, ' ').trim();
    if (paragraph.length === 0) continue;
    const boundary = /([.!?]+)(["')\]\u201D]*)( +|$)/g;
    let start = 0;
    for (let m = boundary.exec(paragraph); m !== null; m = boundary.exec(paragraph)) {
      const punct = m[1];
      const end = m.index + punct.length + m[2].length;
      const atEnd = m[3].length === 0;
      if (!atEnd && !/[!?]/.test(punct)) {
        const next = paragraph.charAt(end + m[3].length);
        if (/[a-z]/.test(next)) continue;
        if (punct === '.') {
          const before = paragraph.slice(start, m.index);
          const token = before.slice(before.lastIndexOf(' ') + 1);
          if (isAbbreviation(token)) continue;
        }
      }
      const sentence = paragraph.slice(start, end).trim();
      if (sentence.length > 0) out.push(sentence);
      start = end;
      if (atEnd) break;
    }
    const rest = paragraph.slice(start).trim();
    if (rest.length > 0) out.push(rest);
  }
  return out.map((sentence, index) => ({ index, text: sentence }));
}

/**
 * Syllable estimate for one English word: counts vowel groups (a, e, i, o, u, y) after
 * removing a silent final "e" (but keeping consonant + "le", as in "ta-ble"), a silent "-ed"
 * (kept after t/d, as in "want-ed") and a silent "-es" (kept after s, x, z, ch, sh, ce, ge, as
 * in "box-es"). A leading "y" is a consonant. Words of up to three letters count as one;
 * every word with a letter has at least one syllable.
 */
export function countSyllables(word: string): number {
  let w = word.toLowerCase().replace(/[^a-z]/g, '');
  if (w.length === 0) return 0;
  if (w.length <= 3) return 1;
  if (w.endsWith('ed') && !/[td]ed$/.test(w)) {
    w = w.slice(0, -2);
  } else if (w.endsWith('es') && !/(?:[sxz]|ch|sh|ce|ge)es$/.test(w)) {
    w = w.slice(0, -2);
  } else if (w.endsWith('e') && !/[^aeiouy]le$/.test(w)) {
    w = w.slice(0, -1);
  }
  w = w.replace(/^y/, '');
  const groups = w.match(/[aeiouy]+/g);
  return Math.max(1, groups ? groups.length : 0);
}

/**
 * Light plural and possessive folding so that "batteries", "battery" and "battery's" count
 * as one term. Not a stemmer: verbs and adjectives are left alone.
 */
export function foldTerm(word: string): string {
  let w = word.endsWith("'s") ? word.slice(0, -2) : word;
  if (w.length <= 3) return w;
  if (w.endsWith('ies') && w.length > 4) return `${w.slice(0, -3)}y`;
  if (w.endsWith('sses') || /(?:x|ch|sh|zz)es$/.test(w)) return w.slice(0, -2);
  if (w.endsWith('s') && !/(?:ss|us|is|'s)$/.test(w)) w = w.slice(0, -1);
  return w;
}

/** Rounds to a fixed number of decimals (half away from zero, tolerant of binary error). */
export function round(value: number, decimals = 2): number {
  const factor = 10 ** decimals;
  const scaled = Math.abs(value) * factor;
  const rounded = (Math.sign(value) * Math.round(scaled + scaled * Number.EPSILON)) / factor;
  return rounded === 0 ? 0 : rounded; // never -0
}
