import { join } from 'node:path';
import { AggregatorModule } from '@agent-mesh/agents/aggregator';
import { MarketMakerModule } from '@agent-mesh/agents/market-maker';
import { OrchestratorModule } from '@agent-mesh/agents/orchestrator';
import { SagaCoordinatorModule } from '@agent-mesh/agents/saga-coordinator';
import { WorkerModule } from '@agent-mesh/agents/worker';
import { demoWorkflows, loadDocuments, runDemo } from '@agent-mesh/demo';
import { InProcessMesh } from '@agent-mesh/testing';

describe('the embedded demo', () => {
  const mesh = new InProcessMesh();
  afterAll(() => mesh.stopAll());

  it('runs a workflow per pattern over the shipped documents and prints steps, branches, results and timelines', async () => {
    const app = await mesh.start({
      role: 'mesh',
      modules: [OrchestratorModule, WorkerModule, AggregatorModule, SagaCoordinatorModule, MarketMakerModule],
    });
    const lines: string[] = [];
    const documents = loadDocuments(join(__dirname, '../../../data/documents'));
    const workflows = demoWorkflows(documents);
    const summary = await runDemo({ baseUrl: app.url, workflows, print: (line) => lines.push(line) });

    expect(summary.workflows.map((w) => w.status)).toEqual(workflows.map((w) => w.expect));
    expect(summary).toMatchObject({ completed: workflows.length, failed: 0 });
    expect(lines[lines.length - 1]).toMatch(new RegExp(`^demo: ${workflows.length} completed, 0 failed`));
    // The plain fan-out: one branch line per document, and a timeline of submitted, step.started,
    // fanout.started, one assignment and one result per document, fanout.completed, step.completed,
    // workflow.completed.
    for (const doc of documents) expect(lines.some((l) => l.includes('branch root#') && l.includes(doc.id))).toBe(true);
    expect(lines).toContain(`   timeline (${6 + 2 * documents.length} events):`);
    expect(lines.some((l) => /\+\s*\d+ ms\s+aggregator@\S+\s+fanout\.completed/.test(l))).toBe(true);
    expect(lines.some((l) => /\+\s*\d+ ms\s+orchestrator@\S+\s+workflow\.completed/.test(l))).toBe(true);
    // The gate that rejects its stage: stage.failed, then the recovery step.
    expect(lines.some((l) => l.includes('stage.failed') && l.includes('recover'))).toBe(true);
    expect(lines.some((l) => l.includes('step root.stages.0.recovery'))).toBe(true);
    // The saga: compensations of charge then reserve, in that order.
    const undo = lines
      .filter((l) => /saga\.step .*compensated/.test(l))
      .map((l) => (l.includes('charge') ? 'charge' : l.includes('reserve') ? 'reserve' : '?'));
    expect(undo).toEqual(['charge', 'reserve']);
    expect(lines.some((l) => l.includes('COMPENSATED (as intended: completed with compensation)'))).toBe(true);
    // The market, the solver rounds and the blackboard show their own events.
    expect(lines.some((l) => /market\.fill\s/.test(l))).toBe(true);
    expect(lines.filter((l) => /solver\.round-completed/.test(l))).toHaveLength(3);
    expect(lines.some((l) => /board\.entry-posted .*keywords/.test(l))).toBe(true);
  });
});
