import { SkillInputError } from '../skill';
import { buildLexicon, SENTIMENT_LEXICON } from '../text/sentiment-lexicon';
import { analyzeSentiment, SentimentSkill } from './sentiment.skill';
import { abortedContext, liveContext } from './test-helpers';

describe('sentiment lexicon', () => {
  it('has a few hundred unique words weighted -5..+5', () => {
    expect(SENTIMENT_LEXICON.duplicates).toEqual([]);
    expect(SENTIMENT_LEXICON.weights.size).toBeGreaterThanOrEqual(300);
    for (const weight of SENTIMENT_LEXICON.weights.values()) {
      expect(Number.isInteger(weight) && weight !== 0 && Math.abs(weight) <= 5).toBe(true);
    }
  });

  it('reports duplicates', () => {
    expect(buildLexicon({ '1': 'good fine', '-1': 'fine' }).duplicates).toEqual(['fine']);
  });
});

describe('SentimentSkill', () => {
  const skill = new SentimentSkill();

  it('scores a clearly positive sentence', async () => {
    // wonderful +4, friendly +2 = 6 over 9 words
    const out = await skill.run(
      { id: 'p', text: 'The food was wonderful and the staff were friendly.' },
      liveContext(),
    );
    expect(out).toEqual({
      score: 6,
      comparative: 0.6667,
      label: 'positive',
      positive: ['wonderful', 'friendly'],
      negative: [],
    });
  });

  it('scores a clearly negative sentence', () => {
    // terrible -3, cold -1
    expect(analyzeSentiment('The service was terrible and the soup was cold.')).toMatchObject({
      score: -4,
      label: 'negative',
      negative: ['terrible', 'cold'],
    });
  });

  it("flips words negated by not / never / no / n't within three words", () => {
    expect(analyzeSentiment('The film was not good.')).toMatchObject({
      score: -2,
      label: 'negative',
      negative: ['not good'],
      positive: [],
    });
    expect(analyzeSentiment('I never felt happy there.')).toMatchObject({ score: -3, negative: ['never happy'] });
    expect(analyzeSentiment('This is not a bad idea.')).toMatchObject({
      score: 2,
      label: 'positive',
      positive: ['not bad'],
    });
    expect(analyzeSentiment('There was no problem at all.')).toMatchObject({ score: 2, positive: ['no problem'] });
    expect(analyzeSentiment("We didn't enjoy it.")).toMatchObject({ score: -3, negative: ["didn't enjoy"] });
  });

  it('limits negation to three words and to its clause', () => {
    // "good" is the fifth word after "not": not negated.
    expect(analyzeSentiment('It was not one bit of it good.')).toMatchObject({ score: 2, positive: ['good'] });
    // The comma ends the clause: "not expensive" +2, "lovely" +3 stays positive.
    expect(analyzeSentiment('It was not expensive, but lovely.')).toMatchObject({
      score: 5,
      positive: ['not expensive', 'lovely'],
    });
  });

  it('labels text without lexicon words neutral', () => {
    expect(analyzeSentiment('The meeting is on Tuesday.')).toEqual({
      score: 0,
      comparative: 0,
      label: 'neutral',
      positive: [],
      negative: [],
    });
  });

  it('rejects empty text and an aborted signal', async () => {
    await expect(skill.run({ id: 's', text: '\n' }, liveContext())).rejects.toBeInstanceOf(SkillInputError);
    await expect(skill.run({ id: 's', text: 'Good.' }, abortedContext())).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('combines with the mean comparative and label counts', () => {
    const combined = skill.combine([
      { inputId: 'a', output: { score: 3, comparative: 0.5, label: 'positive', positive: [], negative: [] } },
      { inputId: 'b', output: { score: -2, comparative: -0.25, label: 'negative', positive: [], negative: [] } },
      { inputId: 'c', output: { score: 0, comparative: 0, label: 'neutral', positive: [], negative: [] } },
    ]);
    // (0.5 - 0.25 + 0) / 3 = 0.083333
    expect(combined).toEqual({
      inputs: 3,
      meanComparative: 0.0833,
      label: 'positive',
      labels: { positive: 1, negative: 1, neutral: 1 },
      perInput: [
        { inputId: 'a', score: 3, comparative: 0.5, label: 'positive' },
        { inputId: 'b', score: -2, comparative: -0.25, label: 'negative' },
        { inputId: 'c', score: 0, comparative: 0, label: 'neutral' },
      ],
    });
  });
});
