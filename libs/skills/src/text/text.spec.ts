import { countSyllables, foldTerm, letterWords, round, splitSentences, words } from './text';

describe('countSyllables', () => {
  it.each([
    ['cat', 1], // short words are one syllable
    ['table', 2], // ta-ble: consonant + "le" keeps its syllable
    ['make', 1], // silent final e
    ['beautiful', 3], // beau-ti-ful: "eau" is one vowel group
    ['reading', 2], // read-ing
    ['wanted', 2], // want-ed: "-ed" after t is voiced
    ['jumped', 1], // "-ed" after p is silent
    ['boxes', 2], // box-es: "-es" after x is voiced
    ['makes', 1], // "-es" after k is silent
    ['yellow', 2], // leading y is a consonant
    ['patience', 2], // pa-tience
    ['education', 4], // ed-u-ca-tion
    ['syllable', 3],
  ])('%s has %i', (word, expected) => {
    expect(countSyllables(word)).toBe(expected);
  });

  it('gives 0 to tokens without letters', () => {
    expect(countSyllables('2024')).toBe(0);
    expect(countSyllables('')).toBe(0);
  });
});

describe('splitSentences', () => {
  it('keeps abbreviations and lower-case continuations inside a sentence', () => {
    const text = 'Dr. Smith arrived at 5 p.m. on Monday. He brought tools, e.g. Saws and drills. Did it work? Yes!';
    expect(splitSentences(text).map((s) => s.text)).toEqual([
      'Dr. Smith arrived at 5 p.m. on Monday.',
      'He brought tools, e.g. Saws and drills.',
      'Did it work?',
      'Yes!',
    ]);
  });

  it('treats initials as abbreviations and blank lines as hard breaks', () => {
    const text = 'A Short Title\n\nJ. R. Smith wrote it in the U.S. Army. It sold well.\n';
    expect(splitSentences(text)).toEqual([
      { index: 0, text: 'A Short Title' },
      { index: 1, text: 'J. R. Smith wrote it in the U.S. Army.' },
      { index: 2, text: 'It sold well.' },
    ]);
  });

  it('keeps closing quotes with their sentence and joins wrapped lines', () => {
    expect(splitSentences('He said "stop." Then he\nleft.').map((s) => s.text)).toEqual([
      'He said "stop."',
      'Then he left.',
    ]);
  });
});

describe('words and folding', () => {
  it('lower-cases, keeps contractions and normalizes curly apostrophes', () => {
    expect(words('Don\u2019t STOP-now, 3 times')).toEqual(["don't", 'stop', 'now', '3', 'times']);
    expect(letterWords('Room 101 is ready')).toEqual(['room', 'is', 'ready']);
  });

  it.each([
    ['batteries', 'battery'],
    ['hives', 'hive'],
    ['boxes', 'box'],
    ['glasses', 'glass'],
    ['glass', 'glass'],
    ['status', 'status'],
    ['bus', 'bus'],
    ["kettle's", 'kettle'],
  ])('folds %s to %s', (word, expected) => {
    expect(foldTerm(word)).toBe(expected);
  });
});

describe('round', () => {
  it('rounds half away from zero despite binary error and never returns -0', () => {
    expect(round(1.005, 2)).toBe(1.01);
    expect(round(-2.345, 2)).toBe(-2.35);
    expect(Object.is(round(-0.0001, 2), 0)).toBe(true);
  });
});
