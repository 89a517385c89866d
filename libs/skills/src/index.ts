/**
 * What workers can do: the Skill interface, the skill registry, built-in text skills, the solver and the LLM skill.
 * Start at skill.ts and registry.ts; the skills are in builtins/, solver/ and llm/.
 */
export {
  type SkillInput,
  type SkillOutput,
  type SkillContext,
  type SkillUsage,
  type Skill,
  SkillInputError,
} from './skill';
export { WorkflowCancelledError } from './workflow-ended';
export { createDefaultSkillRegistry, SkillRegistry } from './registry';
export { KeywordsSkill } from './builtins';
export { EstimateSkill } from './solver';
export {
  LlmSkill,
  createLlmSkill,
  createLlmSkillFromEnv,
  parseLlmPrices,
  parseMcpServers,
  costUsd,
  type LlmClient,
  type LlmCallOptions,
  type LlmCompletion,
  type LlmCompletionRequest,
  type LlmSettings,
  type CreateLlmSkillOptions,
  type LlmPriceTable,
  type McpServerTable,
  OpenAiCompatibleClient,
} from './llm';
