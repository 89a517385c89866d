import { createHash } from 'node:crypto';
import { createDefaultSkillRegistry } from '@agent-mesh/skills';
import { InProcessMesh, startAgents, WorkflowClient } from '@agent-mesh/testing';
import { terminalEvents } from './support/pattern-scenarios';

/*
 * Human approval steps on the memory mesh: a chain drafts a summary, waits for a person's
 * decision (POST /workflows/:id/approvals/:stepPath), and goes on with what was approved — or
 * fails with the rejection's comment, or on its deadline when nobody decides. The API is keyed
 * (MESH_API_KEYS): a decision records who made it as the key's non-secret id, never the key.
 */
const KEY = 'approver-key-0123456789';
/** What the guard calls the key's holder: the first 12 hex of its SHA-256. */
const APPROVER = `key:${createHash('sha256').update(KEY).digest('hex').slice(0, 12)}`;

const draftApprovePublish = (deadlineMs = 60_000) => ({
  name: 'draft, approve, publish',
  step: {
    kind: 'chain',
    stages: [
      {
        step: { kind: 'task', skill: 'summarize', input: { id: 'doc', text: 'Bees visit flowers. They make honey.' } },
      },
      { step: { kind: 'approval', prompt: 'Publish this summary?', deadlineMs } },
      { step: { kind: 'task', skill: 'keywords', inputFrom: { source: 'previous', field: 'previous.summary' } } },
    ],
  },
});

describe('approval steps end to end (memory bus)', () => {
  const mesh = new InProcessMesh();
  let client: WorkflowClient;

  beforeAll(async () => {
    const [orchestrator] = await startAgents(mesh, ['orchestrator', 'aggregator', 'worker'], () => ({
      skills: createDefaultSkillRegistry(),
      env: { MESH_API_KEYS: KEY },
    }));
    client = new WorkflowClient(orchestrator.url, { token: KEY });
  });

  afterAll(() => mesh.stopAll());

  it('waits with its prompt, dispatching nothing; approved, the next stage runs on what was approved', async () => {
    const id = await client.submit(draftApprovePublish());
    const waiting = await client.awaitingApproval(id, 'root.stages.1');
    expect(waiting).toMatchObject({
      kind: 'approval',
      status: 'running',
      awaiting: { prompt: 'Publish this summary?' },
    });
    const before = await client.get(id);
    expect(before.status).toBe('running');
    expect(before.steps.map((s) => s.path)).not.toContain('root.stages.2');

    // who decided is the guard's to say, not the body's
    expect((await client.decide(id, 'root.stages.1', { approve: true, by: 'someone else' })).status).toBe(400);
    const decided = await client.decide(id, 'root.stages.1', { approve: true, comment: 'ship it' });
    expect(decided).toEqual({
      status: 202,
      json: { workflowId: id, stepPath: 'root.stages.1', decision: 'approved' },
    });
    const workflow = await client.finished(id);
    expect(workflow.status).toBe('completed');
    expect(terminalEvents(workflow)).toEqual(['workflow.completed']);
    const approval = workflow.steps.find((s) => s.path === 'root.stages.1');
    expect(approval?.output).toMatchObject({
      approved: true,
      comment: 'ship it',
      by: APPROVER,
      previous: { summary: expect.any(String) },
    });
    const decision = workflow.timeline.find((e) => e.type === 'approval.decided');
    expect(decision?.detail).toBe(`approved by ${APPROVER}: ship it`);
    expect(JSON.stringify(workflow)).not.toContain(KEY);
    expect(approval?.awaiting).toBeUndefined();
    expect(workflow.result).toHaveProperty('keywords');
    expect(workflow.timeline.map((e) => e.type)).toContain('approval.decided');

    // Decided and ended: a second decision is refused.
    expect((await client.decide(id, 'root.stages.1', { approve: false })).status).toBe(409);
  });

  it('rejected: the step fails with the comment as reason, and the workflow with it', async () => {
    const id = await client.submit(draftApprovePublish());
    await client.awaitingApproval(id, 'root.stages.1');
    expect((await client.decide(id, 'root.stages.1', { approve: false, comment: 'tone is off' })).status).toBe(202);
    const workflow = await client.finished(id);
    expect(workflow).toMatchObject({
      status: 'failed',
      reason: `root.stages.1 failed: rejected by ${APPROVER}: tone is off`,
    });
    expect(workflow.steps.map((s) => s.path)).not.toContain('root.stages.2');
  });

  it('fails on its deadline when nobody decides', async () => {
    const id = await client.submit(draftApprovePublish(300));
    const workflow = await client.finished(id);
    expect(workflow).toMatchObject({ status: 'failed', reason: 'root.stages.1 failed: deadline exceeded (300 ms)' });
    expect((await client.decide(id, 'root.stages.1', { approve: true })).status).toBe(409);
  });

  it('refuses a bad decision (400 naming the field), an unknown workflow (404), a step not waiting (409)', async () => {
    const id = await client.submit(draftApprovePublish());
    await client.awaitingApproval(id, 'root.stages.1');

    const missing = await client.decide(id, 'root.stages.1', { comment: 'no verdict' });
    expect(missing.status).toBe(400);
    expect(missing.json['errors']).toEqual([expect.objectContaining({ field: 'approve' })]);
    const notBoolean = await client.decide(id, 'root.stages.1', { approve: 'yes' });
    expect(notBoolean.status).toBe(400);
    const longComment = await client.decide(id, 'root.stages.1', { approve: true, comment: 'x'.repeat(2001) });
    expect(longComment.json['errors']).toEqual([expect.objectContaining({ field: 'comment' })]);
    const unknownField = await client.decide(id, 'root.stages.1', { approve: true, by: 'someone else' });
    expect(unknownField.status).toBe(400);

    expect(
      (await client.decide('01900000-0000-7000-8000-000000000000', 'root.stages.1', { approve: true })).status,
    ).toBe(404);
    expect((await client.decide(id, 'root.stages.0', { approve: true })).status).toBe(409); // a task, ended
    expect((await client.decide(id, 'root.stages.2', { approve: true })).status).toBe(409); // not started
    expect((await client.decide(id, 'not a path', { approve: true })).status).toBe(409);

    // The first decision wins; one made while it is on its way is refused.
    const [first, second] = await Promise.all([
      client.decide(id, 'root.stages.1', { approve: true }),
      client.decide(id, 'root.stages.1', { approve: false }),
    ]);
    expect([first.status, second.status].sort()).toEqual([202, 409]);
    const workflow = await client.finished(id);
    expect(workflow.status).toBe(first.status === 202 ? 'completed' : 'failed');
    // The refused one never went out: one decision on the timeline.
    await client.timeline(id, 'approval.decided', 1);
  });
});
