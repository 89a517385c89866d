import { join } from 'node:path';
import { AggregatorModule } from '@agent-mesh/agents/aggregator';
import { MarketMakerModule } from '@agent-mesh/agents/market-maker';
import { OrchestratorModule } from '@agent-mesh/agents/orchestrator';
import { SagaCoordinatorModule } from '@agent-mesh/agents/saga-coordinator';
import { WorkerModule } from '@agent-mesh/agents/worker';
import { demoWorkflows, llmDemoWorkflows, loadDocuments, runDemo } from '@agent-mesh/demo';
import { startOpenAiStub, type RecordedRequest, type StubReply } from '@agent-mesh/skills/testing';
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

  it('with a model configured, adds a planner, model solvers and a model judge, and each does its part', async () => {
    // The stub stands in for the model: a plan of one task per note, estimates, and a judge that
    // rejects the first summary it reads and accepts the next.
    const userOf = (r: RecordedRequest) => r.messages.find((m) => m.role === 'user')?.content ?? '';
    let verdicts = 0;
    const answer = (request: RecordedRequest): StubReply => {
      const format = request.body?.['response_format'] as
        { json_schema?: { schema?: { properties?: object } } } | undefined;
      const properties = Object.keys(format?.json_schema?.schema?.properties ?? {});
      if (properties.includes('children')) {
        const notes = [...userOf(request).matchAll(/^Note (\S+):\n([^\n]+)/gm)];
        const children = notes.map(([, id, text]) => ({ kind: 'task', skill: 'keywords', input: { id, text } }));
        return { type: 'json', value: { children } };
      }
      if (properties.includes('accept')) {
        verdicts++;
        return { type: 'json', value: { accept: verdicts > 1, reason: verdicts > 1 ? 'concise' : 'too vague' } };
      }
      if (properties.includes('answer')) return { type: 'json', value: { answer: 100 + (userOf(request).length % 7) } };
      return { type: 'text', text: 'Lighthouses guided ships for centuries. Keepers logged every storm.' };
    };
    const stub = await startOpenAiStub({ handler: answer });
    // A mesh of its own: the first test's orchestrator has no model and would take these workflows too.
    const withModel = new InProcessMesh();
    try {
      const app = await withModel.start({
        role: 'mesh-llm',
        modules: [OrchestratorModule, WorkerModule, AggregatorModule, SagaCoordinatorModule, MarketMakerModule],
        env: { LLM_BASE_URL: stub.baseUrl, LLM_MODEL: 'stub-model' },
      });
      const documents = loadDocuments(join(__dirname, '../../../data/documents'));
      const workflows = llmDemoWorkflows(documents);
      const lines: string[] = [];
      const summary = await runDemo({ baseUrl: app.url, workflows, print: (line) => lines.push(line) });

      expect(summary.workflows.map((w) => w.status)).toEqual(['completed', 'completed', 'completed']);
      const [planned, rounds, judged] = summary.workflows;
      // The planner's children are the model's plan: one keywords task per note it was shown.
      const children = planned.steps.filter((s) => /^root\.children\.\d+$/.test(s.path));
      expect(children).toHaveLength(3);
      expect(children.every((c) => c.status === 'completed')).toBe(true);
      // Three solvers, two rounds: six model calls whose prompts name their solver.
      expect(stub.prompts().filter((p) => /^You are solver \d\./.test(p))).toHaveLength(6);
      expect(rounds.status).toBe('completed');
      // The judge rejected the first summary and accepted the retry.
      expect(judged.timeline.some((e) => e.type === 'stage.failed' && (e.detail ?? '').includes('too vague'))).toBe(
        true,
      );
      expect(judged.timeline.some((e) => e.type === 'stage.validated')).toBe(true);
      expect(lines[lines.length - 1]).toMatch(/^demo: 3 completed, 0 failed/);
    } finally {
      await withModel.stopAll();
      await stub.close();
    }
  });
});
