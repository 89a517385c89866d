import { SkillInputError } from '../skill';
import { ReadabilitySkill } from './readability.skill';
import { abortedContext, liveContext } from './test-helpers';

describe('ReadabilitySkill', () => {
  const skill = new ReadabilitySkill();

  it('computes Flesch scores for a known text', async () => {
    // "Reading is fun. Beautiful gardens take patience."
    // words 7, sentences 2; syllables: read-ing 2, is 1, fun 1, beau-ti-ful 3, gar-dens 2, take 1,
    // pa-tience 2 = 12.  words/sentence = 3.5, syllables/word = 12/7 = 1.714286.
    // Ease  = 206.835 - 1.015*3.5 - 84.6*12/7 = 206.835 - 3.5525 - 145.028571 = 58.253929 -> 58.25
    // Grade = 0.39*3.5 + 11.8*12/7 - 15.59 = 1.365 + 20.228571 - 15.59 = 6.003571 -> 6
    const out = await skill.run({ id: 'a', text: 'Reading is fun. Beautiful gardens take patience.' }, liveContext());
    expect(out).toEqual({ words: 7, sentences: 2, syllables: 12, fleschReadingEase: 58.25, fleschKincaidGrade: 6 });
  });

  it('scores one-syllable short sentences as very easy', async () => {
    // 5 words, 5 syllables, 1 sentence: ease = 206.835 - 5.075 - 84.6 = 117.16;
    // grade = 1.95 + 11.8 - 15.59 = -1.84
    const out = await skill.run({ id: 'b', text: 'The big dog ran home.' }, liveContext());
    expect(out).toEqual({ words: 5, sentences: 1, syllables: 5, fleschReadingEase: 117.16, fleschKincaidGrade: -1.84 });
  });

  it('combines with word-weighted averages and names the hardest and easiest input', () => {
    const combined = skill.combine([
      {
        inputId: 'a',
        output: { words: 7, sentences: 2, syllables: 12, fleschReadingEase: 58.25, fleschKincaidGrade: 6 },
      },
      {
        inputId: 'b',
        output: { words: 5, sentences: 1, syllables: 5, fleschReadingEase: 117.16, fleschKincaidGrade: -1.84 },
      },
    ]);
    // ease  = (58.25*7 + 117.16*5) / 12 = 993.55 / 12 = 82.795833 -> 82.8
    // grade = (6*7 - 1.84*5) / 12 = 32.8 / 12 = 2.733333 -> 2.73
    expect(combined).toEqual({
      inputs: 2,
      words: 12,
      sentences: 3,
      syllables: 17,
      fleschReadingEase: 82.8,
      fleschKincaidGrade: 2.73,
      min: { inputId: 'a', fleschReadingEase: 58.25, fleschKincaidGrade: 6 },
      max: { inputId: 'b', fleschReadingEase: 117.16, fleschKincaidGrade: -1.84 },
    });
  });

  it('combines nothing into zeros', () => {
    expect(skill.combine([])).toMatchObject({ inputs: 0, words: 0, fleschReadingEase: 0, min: null, max: null });
  });

  it('rejects malformed outputs in combine', () => {
    expect(() => skill.combine([{ inputId: 'x', output: { words: '7' } }])).toThrow(
      /readability\.combine: output of input x/,
    );
  });

  it('rejects text without words, empty text and an aborted signal', async () => {
    await expect(skill.run({ id: 'n', text: '123 456.' }, liveContext())).rejects.toBeInstanceOf(SkillInputError);
    await expect(skill.run({ id: 'e', text: ' \n\t ' }, liveContext())).rejects.toBeInstanceOf(SkillInputError);
    await expect(skill.run({ id: 'x', text: 'Fine text.' }, abortedContext())).rejects.toMatchObject({
      name: 'AbortError',
    });
  });
});
