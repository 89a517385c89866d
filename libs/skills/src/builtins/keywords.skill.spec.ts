import { SkillInputError } from '../skill';
import { extractKeywords, KeywordsSkill } from './keywords.skill';
import { abortedContext, liveContext } from './test-helpers';

describe('KeywordsSkill', () => {
  const skill = new KeywordsSkill();

  it('ranks the dominant term first with normalized frequencies', async () => {
    // Content words (stopwords "the", "and", "make", "many", "between" removed): bees x4,
    // flowers x2, visit, carry, pollen, honey, garden, hosts x1 = 12 in all.
    const text =
      'Bees visit flowers. Bees carry pollen between flowers, and bees make honey. The garden hosts many bees.';
    const out = await skill.run({ id: 'd', text, params: { top: 3 } }, liveContext());
    expect(out).toEqual({
      keywords: [
        { term: 'bees', score: 0.3333 }, // 4/12
        { term: 'flowers', score: 0.1667 }, // 2/12
        { term: 'carry', score: 0.0833 }, // 1/12, first alphabetically among the ties
      ],
    });
  });

  it('keeps repeated two-word phrases and drops words that only occur inside them', () => {
    // Content words: solar x2, panels x3, cut, bills, need, sun, age = 10. "solar panels" occurs
    // twice, and "solar" never occurs outside it, so "solar" alone is not listed.
    const keywords = extractKeywords('Solar panels cut bills. Solar panels need sun. Panels age.', 8);
    expect(keywords.slice(0, 2)).toEqual([
      { term: 'panels', score: 0.3 },
      { term: 'solar panels', score: 0.2 },
    ]);
    expect(keywords.map((k) => k.term)).not.toContain('solar');
    expect(keywords).toHaveLength(7);
  });

  it('folds plurals and shows the most frequent surface form', () => {
    // battery, failed, old, batteries, leak, batteries, matter = 7 content words; battery x3.
    expect(extractKeywords('The battery failed. Old batteries leak. Batteries matter.', 1)).toEqual([
      { term: 'batteries', score: 0.4286 },
    ]);
  });

  it('defaults to 8 keywords', async () => {
    const text = 'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima';
    const out = (await skill.run({ id: 'd', text }, liveContext())) as { keywords: unknown[] };
    expect(out.keywords).toHaveLength(8);
  });

  it.each([0, 51, 2.5, '3', null])('rejects top = %p', async (top) => {
    await expect(skill.run({ id: 'd', text: 'Some text here.', params: { top } }, liveContext())).rejects.toThrow(
      /keywords: param "top" must be an integer from 1 to 50/,
    );
  });

  it('rejects empty text, non-object params and an aborted signal', async () => {
    await expect(skill.run({ id: 'd', text: '   ' }, liveContext())).rejects.toBeInstanceOf(SkillInputError);
    await expect(
      skill.run({ id: 'd', text: 'Text.', params: [] as unknown as Record<string, unknown> }, liveContext()),
    ).rejects.toBeInstanceOf(SkillInputError);
    await expect(skill.run({ id: 'd', text: 'Text.' }, abortedContext())).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('combines by summing per-document scores, keeping the longest list length', () => {
    const combined = skill.combine([
      {
        inputId: 'a',
        output: {
          keywords: [
            { term: 'x', score: 0.5 },
            { term: 'y', score: 0.2 },
          ],
        },
      },
      {
        inputId: 'b',
        output: {
          keywords: [
            { term: 'y', score: 0.4 },
            { term: 'z', score: 0.1 },
          ],
        },
      },
      { inputId: 'c', output: { keywords: [] } },
    ]);
    expect(combined).toEqual({
      keywords: [
        { term: 'y', score: 0.6, documents: 2, inputIds: ['a', 'b'] },
        { term: 'x', score: 0.5, documents: 1, inputIds: ['a'] },
      ],
      perInput: [
        { inputId: 'a', keywords: 2 },
        { inputId: 'b', keywords: 2 },
        { inputId: 'c', keywords: 0 },
      ],
    });
  });

  it('breaks combined ties by document count, then alphabetically', () => {
    const combined = skill.combine([
      {
        inputId: 'a',
        output: {
          keywords: [
            { term: 'q', score: 0.3 },
            { term: 'p', score: 0.3 },
            { term: 'r', score: 0.1 },
          ],
        },
      },
      { inputId: 'b', output: { keywords: [{ term: 'r', score: 0.2 }] } },
    ]) as { keywords: { term: string }[] };
    // r: 0.1 + 0.2 = 0.3 in two documents beats p and q (0.3 in one); p before q alphabetically.
    expect(combined.keywords.map((k) => k.term)).toEqual(['r', 'p', 'q']);
  });

  it('rejects malformed outputs in combine', () => {
    expect(() => skill.combine([{ inputId: 'a', output: { keywords: [{ term: 'x' }] } }])).toThrow(/"score"/);
  });
});
