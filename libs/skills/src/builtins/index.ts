import type { Skill } from '../skill';
import { EstimateSkill } from '../solver/estimate.skill';
import { KeywordsSkill } from './keywords.skill';
import { ReadabilitySkill } from './readability.skill';
import { SentimentSkill } from './sentiment.skill';
import { SummarizeSkill } from './summarize.skill';

export * from './keywords.skill';
export * from './readability.skill';
export * from './sentiment.skill';
export * from './summarize.skill';
export type { BranchOutput } from './common';

/** Fresh instances of every deterministic built-in skill, sorted by name. */
export function createBuiltInSkills(): Skill[] {
  return [new EstimateSkill(), new KeywordsSkill(), new ReadabilitySkill(), new SentimentSkill(), new SummarizeSkill()];
}
