import { join } from 'node:path';
import { AggregatorModule } from '@agent-mesh/agents/aggregator';
import { OrchestratorModule } from '@agent-mesh/agents/orchestrator';
import { WorkerModule } from '@agent-mesh/agents/worker';
import { loadDocuments, runDemo } from '@agent-mesh/demo';
import { InProcessMesh } from '../in-process-mesh';

describe('the embedded demo', () => {
  const mesh = new InProcessMesh();
  afterAll(() => mesh.stopAll());

  it('runs a fan-out per skill over the shipped documents and prints branches, aggregate and timeline', async () => {
    const app = await mesh.start({ role: 'mesh', modules: [OrchestratorModule, WorkerModule, AggregatorModule] });
    const lines: string[] = [];
    const documentsDir = join(__dirname, '../../../../data/documents');
    const summary = await runDemo({
      baseUrl: app.url,
      transport: app.transport,
      documentsDir,
      skills: ['keywords', 'readability'],
      print: (line) => lines.push(line),
    });
    const documents = loadDocuments(documentsDir);

    expect(summary).toMatchObject({ completed: 2, failed: 0 });
    expect(lines[lines.length - 1]).toBe('demo: 2 completed, 0 failed');
    for (const doc of documents) {
      expect(lines.filter((l) => l.includes(`branch `) && l.includes(doc.id))).toHaveLength(2);
    }
    expect(lines.filter((l) => l.startsWith('  aggregate: '))).toHaveLength(2);
    // Each workflow's timeline: submitted, step.started, fanout.started, one assignment and one
    // result per document, fanout.completed, step.completed, workflow.completed.
    const timelineHeaders = lines.filter((l) => l.startsWith('  timeline ('));
    expect(timelineHeaders).toEqual(Array(2).fill(`  timeline (${6 + 2 * documents.length} events):`));
    expect(lines.some((l) => /\+\s*\d+ ms\s+aggregator@\S+\s+fanout\.completed/.test(l))).toBe(true);
    expect(lines.some((l) => /\+\s*\d+ ms\s+orchestrator@\S+\s+workflow\.completed/.test(l))).toBe(true);
  });
});
