/**
 * The demo: one workflow per pattern over the shipped documents, submitted to a running mesh and printed.
 * Start at run-demo.ts (runDemo).
 */
export { demoWorkflows, loadDocuments, runDemo } from './run-demo';
export { llmDemoWorkflows } from './llm-workflows';
