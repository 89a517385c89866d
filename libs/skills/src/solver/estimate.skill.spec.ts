import { abortedContext, liveContext } from '../builtins/test-helpers';
import { SkillInputError } from '../skill';
import { EstimateSkill, median } from './estimate.skill';

/*
 * Six sentences of 3, 9, 5, 7, 1 and 11 words: 36 words in all.
 *   solver 0 reads every sentence:          mean 36/6 = 6           → 6 × 6 = 36
 *   solver 1 reads sentences 0, 2, 4:        (3 + 5 + 1) / 3 = 3     → 3 × 6 = 18
 *   solver 2 reads sentences 0, 3:           (3 + 7) / 2 = 5         → 5 × 6 = 30
 *   solver 3 reads sentences 0, 4:           (3 + 1) / 2 = 2         → 2 × 6 = 12
 *   solver 9 reads sentence 0 only:          3                       → 3 × 6 = 18
 */
const TEXT =
  'Cats sleep often. The old grey cat sleeps on the warm mat. Dogs bark at the mailman. ' +
  'Birds sing loudly in the early morning. Quiet. Fish swim slowly around the small glass bowl all day long.';

describe('EstimateSkill', () => {
  const skill = new EstimateSkill();
  const run = (params?: Record<string, unknown>, text = TEXT) => skill.run({ id: 'q', text, params }, liveContext());

  it('round 1: each solver answers its own biased estimate', async () => {
    expect(await run()).toEqual({ answer: 36, label: 'short', round: 1, solver: 0 });
    expect(await run({ solver: 1 })).toEqual({ answer: 18, label: 'short', round: 1, solver: 1 });
    expect(await run({ solver: 2, round: 1 })).toEqual({ answer: 30, label: 'short', round: 1, solver: 2 });
    expect(await run({ solver: 3 })).toMatchObject({ answer: 12 });
    expect(await run({ solver: 9 })).toMatchObject({ answer: 18 });
  });

  it('round 1 ignores peers: the first answers are independent', async () => {
    expect(await run({ solver: 1, round: 1, peers: [{ solver: 0, answer: 1000 }] })).toMatchObject({ answer: 18 });
  });

  it('later rounds move halfway toward the median of the other solvers’ previous answers', async () => {
    const r1 = [
      { answer: 36, solver: 0 },
      { answer: 18, solver: 1 },
      { answer: 30, solver: 2 },
    ];
    // solver 0: others 18, 30 → 24; (36 + 24) / 2 = 30
    // solver 1: others 36, 30 → 33; (18 + 33) / 2 = 25.5
    // solver 2: others 36, 18 → 27; (30 + 27) / 2 = 28.5
    expect(await run({ solver: 0, round: 2, peers: r1 })).toEqual({ answer: 30, label: 'short', round: 2, solver: 0 });
    expect(await run({ solver: 1, round: 2, peers: r1 })).toEqual({
      answer: 25.5,
      label: 'short',
      round: 2,
      solver: 1,
    });
    expect(await run({ solver: 2, round: 2, peers: r1 })).toEqual({
      answer: 28.5,
      label: 'short',
      round: 2,
      solver: 2,
    });

    const r2 = [
      { answer: 30, solver: 0 },
      { answer: 25.5, solver: 1 },
      { answer: 28.5, solver: 2 },
    ];
    // solver 0: others 25.5, 28.5 → 27;    (36 + 27) / 2 = 31.5
    // solver 1: others 30, 28.5 → 29.25;   (18 + 29.25) / 2 = 23.625 → 23.63 (half away from zero)
    // solver 2: others 30, 25.5 → 27.75;   (30 + 27.75) / 2 = 28.875 → 28.88
    expect(await run({ solver: 0, round: 3, peers: r2 })).toMatchObject({ answer: 31.5, round: 3 });
    expect(await run({ solver: 1, round: 3, peers: r2 })).toMatchObject({ answer: 23.63, round: 3 });
    expect(await run({ solver: 2, round: 3, peers: r2 })).toMatchObject({ answer: 28.88, round: 3 });
  });

  it('answers its own estimate when a later round has no other solver’s answer', async () => {
    expect(await run({ solver: 1, round: 2, peers: [] })).toMatchObject({ answer: 18, round: 2 });
    expect(await run({ solver: 1, round: 2, peers: [{ solver: 1, answer: 99 }] })).toMatchObject({ answer: 18 });
  });

  it('labels by size: short below 100 words, medium below 500, long from 500', async () => {
    const sentences = (n: number) => Array.from({ length: n }, () => 'One two three four five.').join(' ');
    expect(await run(undefined, sentences(19))).toMatchObject({ answer: 95, label: 'short' });
    expect(await run(undefined, sentences(20))).toMatchObject({ answer: 100, label: 'medium' });
    expect(await run(undefined, sentences(99))).toMatchObject({ answer: 495, label: 'medium' });
    expect(await run(undefined, sentences(100))).toMatchObject({ answer: 500, label: 'long' });
  });

  it('combines to the median of the answers', () => {
    const outputs = (answers: number[]) =>
      answers.map((answer, i) => ({ inputId: `s${i}`, output: { answer, label: 'short', round: 3, solver: i } }));
    expect(skill.combine(outputs([31.5, 23.63, 28.88]))).toEqual({ answer: 28.88, label: 'short', count: 3 });
    // even count: the mean of the two middle answers, (20 + 30) / 2
    expect(skill.combine(outputs([10, 40, 30, 20]))).toEqual({ answer: 25, label: 'short', count: 4 });
    expect(skill.combine(outputs([600, 90, 700]))).toEqual({ answer: 600, label: 'long', count: 3 });
    expect(skill.combine([])).toEqual({ answer: 0, label: 'short', count: 0 });
    expect(() => skill.combine([{ inputId: 'x', output: { answer: 'many' } }])).toThrow(/answer/);
  });

  it('median', () => {
    expect(median([5])).toBe(5);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow();
  });

  it('refuses text without words and bad params as input errors', async () => {
    await expect(run(undefined, '... !!! ???')).rejects.toBeInstanceOf(SkillInputError);
    await expect(run(undefined, '   ')).rejects.toBeInstanceOf(SkillInputError);
    await expect(run({ round: 0 })).rejects.toBeInstanceOf(SkillInputError);
    await expect(run({ solver: -1 })).rejects.toBeInstanceOf(SkillInputError);
    await expect(run({ solver: 1.5 })).rejects.toBeInstanceOf(SkillInputError);
    await expect(run({ round: 2, peers: 'many' })).rejects.toBeInstanceOf(SkillInputError);
    await expect(run({ round: 2, peers: [{ solver: 0, answer: '36' }] })).rejects.toBeInstanceOf(SkillInputError);
  });

  it('does not start when the task is already aborted', async () => {
    await expect(skill.run({ id: 'q', text: TEXT }, abortedContext())).rejects.toThrow();
  });
});
