import { Global, Module } from '@nestjs/common';
import {
  OrchestratorModule,
  WORKFLOW_LOG_READER,
  type WorkflowLogReader,
  type WorkflowView,
} from '@agent-mesh/agents/orchestrator';
import { LogWorkflowReader, WorkflowLogReaderModule } from '@agent-mesh/replay';
import { InProcessMesh, startAgents, WorkflowClient } from '@agent-mesh/testing';

/*
 * `GET /workflows/:id` in a region that does not have the workflow in its state: it asks the
 * log reader (another region's workflow, from its replicated events) and answers read-only. The
 * reader itself — the fold of replicated events on two real clusters — is checked by
 * geo-replication.pulsar.spec.ts; here the orchestrator's side, on the memory bus, with a reader
 * that knows one workflow of "the other region".
 */

const REMOTE_ID = '01900000-0000-7000-8000-00000000e0e0';
const UNKNOWN_ID = '01900000-0000-7000-8000-00000000dead';

const REMOTE_VIEW: WorkflowView = {
  id: REMOTE_ID,
  name: 'homed elsewhere',
  status: 'completed',
  submittedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:00:01.000Z',
  branches: [],
  steps: [],
  timeline: [],
};

class OneWorkflowReader implements WorkflowLogReader {
  readonly asked: string[] = [];

  async read(workflowId: string): Promise<WorkflowView | undefined> {
    this.asked.push(workflowId);
    return workflowId === REMOTE_ID ? REMOTE_VIEW : undefined;
  }
}

describe('GET /workflows/:id falls back to the replicated log (memory bus)', () => {
  const mesh = new InProcessMesh();
  const reader = new OneWorkflowReader();
  let client: WorkflowClient;

  @Global()
  @Module({ providers: [{ provide: WORKFLOW_LOG_READER, useValue: reader }], exports: [WORKFLOW_LOG_READER] })
  class FakeLogReaderModule {}

  beforeAll(async () => {
    const orchestrator = await mesh.start({ role: 'orchestrator', modules: [OrchestratorModule, FakeLogReaderModule] });
    await startAgents(mesh, ['aggregator', 'worker']);
    client = new WorkflowClient(orchestrator.url);
  });

  afterAll(() => mesh.stopAll());

  it('answers a workflow it does not have, known to the log, read-only', async () => {
    const answer = await client.request('GET', `/workflows/${REMOTE_ID}`);
    expect(answer).toEqual({ status: 200, json: { ...REMOTE_VIEW, readOnly: true } });
  });

  it('answers 404 for an id neither has, and does not ask the log about what is not a workflow id', async () => {
    expect((await client.request('GET', `/workflows/${UNKNOWN_ID}`)).status).toBe(404);
    reader.asked.length = 0;
    expect((await client.request('GET', '/workflows/not-an-id')).status).toBe(404);
    expect(reader.asked).toEqual([]);
  });

  it('answers its own workflows from its state, not read-only', async () => {
    const done = await client.run({
      step: { kind: 'task', skill: 'keywords', input: { id: 'local', text: 'homed here' } },
    });
    const answer = await client.request<Record<string, unknown>>('GET', `/workflows/${done.id}`);
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ id: done.id, status: 'completed' });
    expect(answer.json).not.toHaveProperty('readOnly');
    expect(reader.asked).not.toContain(done.id);
  });
});

describe('the log reader is on only in a geo set (MESH_GEO_PEER_WEB_URLS)', () => {
  const mesh = new InProcessMesh();
  afterAll(() => mesh.stopAll());

  it.each([
    ['without peers: none (an unknown id is a plain 404, no scan of the log)', {}, false],
    ['with peers: the reader of the log', { MESH_GEO_PEER_WEB_URLS: 'http://127.0.0.1:1' }, true],
  ])('%s', async (_what, env: Record<string, string>, present) => {
    const orchestrator = await mesh.start({
      role: 'orchestrator',
      modules: [OrchestratorModule, WorkflowLogReaderModule],
      env,
    });
    const provided = orchestrator.app.get<WorkflowLogReader | null>(WORKFLOW_LOG_READER);
    expect(provided instanceof LogWorkflowReader).toBe(present);
    const answer = await new WorkflowClient(orchestrator.url).request('GET', `/workflows/${REMOTE_ID}`);
    expect(answer.status).toBe(404);
  });
});
