// The test stub (openai-compatible-stub.ts) is not exported here: it is test code, exported by
// the testing entry point `@agent-mesh/skills/testing` (src/testing).
export * from './llm-client';
export * from './llm.skill';
export * from './llm-settings';
export { renderTemplate, TemplateError, type TemplateValues } from './prompt-template';
export type { RecordedToolCall } from './mcp-tools';
