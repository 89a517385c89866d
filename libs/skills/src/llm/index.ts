// The test stub (openai-compatible-stub.ts) is deliberately not exported here: it is test
// code built on node:http; import it by path, or from a testing entry point if one is added.
export * from './llm-client';
export * from './llm.skill';
