export { loadDocuments, runDemo, type DemoOptions, type DemoSummary } from './run-demo';
export { EventTimeline, type TimelineEntry } from './timeline';
