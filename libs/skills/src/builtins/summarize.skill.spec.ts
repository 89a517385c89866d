import { SkillInputError } from '../skill';
import { SummarizeSkill } from './summarize.skill';
import { abortedContext, liveContext } from './test-helpers';

// Content terms per sentence (stopwords dropped, plurals folded):
//  0 river, carry, water, sea
//  1 river, shape, valley, river, feed, farm, water
//  2 weather, pleasant, yesterday
//  3 bird, sang
// Frequencies: river 3, water 2, the rest 1; weights = frequency / 3.
// Scores = sum of weights / sqrt(term count):
//  0 (1 + 1/3 + 2/3 + 1/3) / 2       = 1.1667
//  1 (1 + 1/3 + 1/3 + 1 + 1/3 + 1/3 + 2/3) / sqrt(7) = 4 / 2.645751 = 1.5119
//  2 1 / sqrt(3) = 0.5774;  3 (2/3) / sqrt(2) = 0.4714
const TEXT =
  'Rivers carry water to the sea. Rivers shape valleys and rivers feed farms with water. ' +
  'The weather was pleasant yesterday. Birds sang.';

describe('SummarizeSkill', () => {
  const skill = new SummarizeSkill();

  it('picks the sentence richest in frequent content words', async () => {
    const out = await skill.run({ id: 'r', text: TEXT, params: { sentences: 1 } }, liveContext());
    expect(out).toEqual({
      summary: 'Rivers shape valleys and rivers feed farms with water.',
      sentences: [{ index: 1, text: 'Rivers shape valleys and rivers feed farms with water.', score: 1.5119 }],
    });
  });

  it('returns the default two sentences in original order, not score order', async () => {
    const out = (await skill.run({ id: 'r', text: TEXT }, liveContext())) as {
      summary: string;
      sentences: { index: number; score: number }[];
    };
    expect(out.sentences.map((s) => [s.index, s.score])).toEqual([
      [0, 1.1667],
      [1, 1.5119],
    ]);
    expect(out.summary).toBe('Rivers carry water to the sea. Rivers shape valleys and rivers feed farms with water.');
  });

  it('does not pick a heading, and returns every sentence when fewer than asked', async () => {
    const out = (await skill.run(
      { id: 'h', text: 'Rivers and Water\n\nRivers carry water. Birds sang.', params: { sentences: 5 } },
      liveContext(),
    )) as { sentences: { index: number }[] };
    expect(out.sentences.map((s) => s.index)).toEqual([1, 2]);
  });

  it.each([0, 21, 1.5, '2'])('rejects sentences = %p', async (sentences) => {
    await expect(skill.run({ id: 'r', text: TEXT, params: { sentences } }, liveContext())).rejects.toBeInstanceOf(
      SkillInputError,
    );
  });

  it('rejects empty text and an aborted signal', async () => {
    await expect(skill.run({ id: 'r', text: '' }, liveContext())).rejects.toThrow(/summarize: input r: text is empty/);
    await expect(skill.run({ id: 'r', text: TEXT }, abortedContext())).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('combines per-input summaries in branch order and re-ranks the picked sentences', () => {
    // Pool: "Solar power is cheap." (solar, power, cheap), "Solar power grows fast." (solar,
    // power, grow, fast), "Cats sleep." (cat, sleep). solar and power occur twice (weight 1),
    // the rest once (0.5). Scores: 2.5/sqrt(3) = 1.4434, 3/2 = 1.5, 1/sqrt(2) = 0.7071.
    // Two are kept (the largest per-input pick), in branch order.
    const combined = skill.combine([
      {
        inputId: 'a',
        output: {
          summary: 'Solar power is cheap.',
          sentences: [{ index: 0, text: 'Solar power is cheap.', score: 1 }],
        },
      },
      {
        inputId: 'b',
        output: {
          summary: 'Solar power grows fast. Cats sleep.',
          sentences: [
            { index: 3, text: 'Solar power grows fast.', score: 1 },
            { index: 5, text: 'Cats sleep.', score: 0.5 },
          ],
        },
      },
    ]);
    expect(combined).toEqual({
      summaries: [
        { inputId: 'a', summary: 'Solar power is cheap.' },
        { inputId: 'b', summary: 'Solar power grows fast. Cats sleep.' },
      ],
      summary: '[a] Solar power is cheap.\n\n[b] Solar power grows fast. Cats sleep.',
      corpusSummary: 'Solar power is cheap. Solar power grows fast.',
      corpusSentences: [
        { inputId: 'a', index: 0, text: 'Solar power is cheap.', score: 1.4434 },
        { inputId: 'b', index: 3, text: 'Solar power grows fast.', score: 1.5 },
      ],
    });
  });
});
