export { demoWorkflows, loadDocuments, runDemo, type DemoOptions, type DemoSummary, type DemoWorkflow } from './run-demo';
