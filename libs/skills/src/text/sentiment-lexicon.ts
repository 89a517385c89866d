/**
 * A small hand-written English sentiment lexicon: word → weight from −5 (very negative) to +5
 * (very positive). Inflected forms are listed separately because tokens are not stemmed.
 * Words whose polarity depends heavily on context ("like", "well", "pretty", "fine") are
 * deliberately left out.
 */
const WEIGHTED_WORDS: Readonly<Record<string, string>> = {
  '5': `
    outstanding superb breathtaking exceptional magnificent masterpiece flawless sublime
    phenomenal triumph triumphant
  `,
  '4': `
    amazing awesome brilliant excellent fantastic wonderful marvelous marvellous incredible
    delightful delighted thrilled stunning spectacular perfect perfection glorious exquisite
    extraordinary ecstatic overjoyed beloved impressive terrific remarkable splendid
  `,
  '3': `
    love loved loves lovely loving great happy happiness joy joyful joyous beautiful
    beautifully excited exciting enjoy enjoyed enjoys enjoyable enjoying pleased pleasure
    pleasant admire admired adore adored charming elegant gorgeous generous grateful
    thankful inspiring inspired fun favourite favorite success successful succeed succeeded
    win wins winning won winner best praise praised recommend recommended rewarding
    celebrate celebrated thriving thrive thrives vibrant fabulous fascinating cheerful
      kindness welcoming welcomed proud satisfying satisfied
  `,
  '2': `
    good better nice glad hope hopeful hopes helpful benefit benefits beneficial
    improve improved improves improvement improvements clean fresh safe safer secure calm
    comfortable friendly gentle valuable worthwhile effective efficient reliable healthy
    positive smooth tasty delicious fair honest useful easy easier clever creative
    strong stronger solid agree agreed appreciate appreciated attractive bright
    confident encourage encouraged encouraging gain gains grow growing growth hero
    interesting lucky luckily peaceful popular protect protected recover
    recovered relief relieved respect respected rich safely save saved saves smart
    support supported supportive sweet thank thanks tidy trust trusted trustworthy
    welcome wise worth warm warmth affordable attentive crisp fragrant generously patient patiently
    restore restored revive revived sustainable abundant
  `,
  '1': `
    ok okay adequate decent acceptable interested steady stable clear
    careful carefully modest simple quiet balanced reasonable reasonably promising
    correct capable fond mild hopefully intact lively neat organized
    organised plenty polite prepared productive resilient suitable thoughtful
    tolerable usefully willing
  `,
  '-1': `
    bland dull slow slowly odd mediocre average awkward uneven lukewarm cold
    cramped noisy crowded delay delayed delays doubt doubtful unclear uncertain
    uncertainty unsure tired tiresome boring bored limited lacking lack lacks lacked
    forgettable overpriced pricey stale soggy greasy salty bitter chewy complain
    complained complaint complaints confusing confused harder difficult
    difficulty concern concerned concerns risk risky warning weak weaker worry
    worried worries inconsistent leak leaks leaking mess messy rough
  `,
  '-2': `
    bad worse poor poorly sad sadly unhappy fail fails failed failing problem problems
    trouble troubled wrong mistake mistakes broken damage damaged damaging dirty danger
    dangerous harm harmful hurt hurts lost lose loses losing loss losses ugly rude
    disappoint disappointed disappointing disappointment annoy annoyed annoying angry
    anger afraid fear fears feared scared unfortunately unfortunate unpleasant
    unreliable unsafe useless waste wasted wasteful pollution polluted toxic threat
    threatened sick illness ill injury injured pain painful grim gloomy lonely cruel
    careless neglect neglected neglectful undercooked overcooked burnt inedible
    unfriendly hostile stress stressed stressful frustrating frustrated frustration
    expensive storm stormy decline declined declining shortage
  `,
  '-3': `
    terrible awful horrible hate hated hates hateful dreadful miserable misery nasty
    disgusting disgusted failure furious hopeless worthless pathetic shameful shame
    ruined ruin ruins tragic tragedy disaster disastrous collapse collapsed
    betrayed betrayal crisis destroyed destroy destroys devastating devastated
    catastrophe panic poison poisoned poisonous inexcusable unacceptable
    worst dead death deadly die died dying kill killed
  `,
  '-4': `
    appalling atrocious abysmal horrendous horrific horrifying vile repulsive revolting
    despicable catastrophic nightmare disgrace disgraceful
  `,
  '-5': `
    abhorrent unbearable unforgivable evil
  `,
};

export interface SentimentLexicon {
  readonly weights: ReadonlyMap<string, number>;
  /** Words listed under more than one weight (should be empty; checked by the tests). */
  readonly duplicates: readonly string[];
}

export function buildLexicon(source: Readonly<Record<string, string>> = WEIGHTED_WORDS): SentimentLexicon {
  const weights = new Map<string, number>();
  const duplicates: string[] = [];
  for (const [weight, list] of Object.entries(source)) {
    for (const word of list.split(/\s+/)) {
      if (word.length === 0) continue;
      if (weights.has(word)) duplicates.push(word);
      else weights.set(word, Number(weight));
    }
  }
  return { weights, duplicates };
}

export const SENTIMENT_LEXICON: SentimentLexicon = buildLexicon();
