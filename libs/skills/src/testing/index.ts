/**
 * Test helpers of the skills (`@agent-mesh/skills/testing`): the real OpenAI-compatible stub
 * server the LLM skill's tests and the e2e suites point the skill at. Test code only.
 */
export * from '../llm/openai-compatible-stub';
