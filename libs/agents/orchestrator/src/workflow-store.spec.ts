import type { FanOutWorkflowRequest } from '@agent-mesh/contracts';
import { MemoryStateStore, type ApplyOnceResult } from '@agent-mesh/state';
import { WorkflowStore, type BranchView } from './workflow-store';

const request: FanOutWorkflowRequest = {
  skill: 'keywords',
  inputs: [
    { id: 'alpha', text: 'first document' },
    { id: 'beta', text: 'second document' },
    { id: 'gamma', text: 'third document' },
  ],
};

const AT = '2025-03-04T05:06:07.000Z';

describe('WorkflowStore', () => {
  let state: MemoryStateStore;
  let store: WorkflowStore;

  beforeEach(() => {
    state = new MemoryStateStore();
    store = new WorkflowStore(state);
  });

  afterEach(() => state.close());

  it('returns undefined for a workflow it never saw', async () => {
    expect(await store.get('wf-unknown')).toBeUndefined();
  });

  it('records an accepted workflow with its request', async () => {
    const at = new Date(Date.UTC(2025, 0, 2, 3, 4, 5));
    await store.accept('wf-1', request, at);
    expect(await store.get('wf-1')).toEqual({
      id: 'wf-1',
      status: 'accepted',
      skill: request.skill,
      branchCount: request.inputs.length,
      submittedAt: at.toISOString(),
      finishedAt: undefined,
      branches: [],
      result: undefined,
      reason: undefined,
    });
  });

  it('start returns true until the fan-out is marked dispatched, then false', async () => {
    expect(await store.start('ev-1', 'wf-1', request, AT)).toBe(true);
    // redelivered before markDispatched: the fan-out must be repeated
    expect(await store.start('ev-1', 'wf-1', request, AT)).toBe(true);
    await store.markDispatched('wf-1');
    expect(await store.start('ev-1', 'wf-1', request, AT)).toBe(false);
    // a second request event for the same workflow (e.g. re-published) does not fan out again either
    expect(await store.start('ev-2', 'wf-1', request, AT)).toBe(false);
    expect((await store.get('wf-1'))?.status).toBe('running');
  });

  it('creates one pending branch per input, in input order', async () => {
    await store.start('ev-1', 'wf-1', request, AT);
    const view = await store.get('wf-1');
    expect(view?.branchCount).toBe(request.inputs.length);
    expect(view?.submittedAt).toBe(AT);
    expect(view?.branches).toEqual(request.inputs.map((input, index) => ({ index, inputId: input.id, status: 'pending' })));
  });

  it('applies a redelivered requested event once (same event id = same marker)', async () => {
    const applyOnce = jest.spyOn(state, 'applyOnce');
    await store.start('ev-1', 'wf-1', request, AT);
    const first = await (applyOnce.mock.results[0].value as Promise<ApplyOnceResult>);
    await store.start('ev-1', 'wf-1', request, '2030-01-01T00:00:00.000Z');
    const second = await (applyOnce.mock.results[1].value as Promise<ApplyOnceResult>);
    expect(first.applied).toBe(true);
    expect(second.applied).toBe(false);
    expect(applyOnce.mock.calls[0][0]).toBe(applyOnce.mock.calls[1][0]);
    expect((await store.get('wf-1'))?.submittedAt).toBe(AT);
  });

  it('keeps the submit time of accept when the request is consumed later', async () => {
    const accepted = new Date(Date.UTC(2025, 0, 1));
    await store.accept('wf-1', request, accepted);
    await store.start('ev-1', 'wf-1', request, AT);
    expect((await store.get('wf-1'))?.submittedAt).toBe(accepted.toISOString());
  });

  it('does not let a recorded branch go back to pending when the request is redelivered', async () => {
    await store.start('ev-1', 'wf-1', request, AT);
    const done: BranchView = { index: 1, inputId: 'beta', status: 'completed', worker: 'worker@w', durationMs: 4, output: { n: 1 } };
    await store.recordBranch('task-ev-1', 'wf-1', done);
    await store.start('ev-1', 'wf-1', request, AT);
    await store.start('ev-2', 'wf-1', request, AT);
    expect((await store.get('wf-1'))?.branches[1]).toEqual(done);
  });

  it('records a branch once per event id', async () => {
    await store.start('ev-1', 'wf-1', request, AT);
    const completed: BranchView = { index: 0, inputId: 'alpha', status: 'completed', worker: 'worker@a', durationMs: 7, output: { k: 'v' } };
    await store.recordBranch('task-ev-1', 'wf-1', completed);
    // the same event again, with a different body, changes nothing
    await store.recordBranch('task-ev-1', 'wf-1', { index: 0, inputId: 'alpha', status: 'failed', worker: 'worker@b', error: 'late' });
    const view = await store.get('wf-1');
    expect(view?.branches[0]).toEqual(completed);
    expect(view?.branches.slice(1).map((b) => b.status)).toEqual(['pending', 'pending']);

    // a different event for the same branch is a new fact and is recorded
    const failed: BranchView = { index: 0, inputId: 'alpha', status: 'failed', worker: 'worker@c', error: 'boom' };
    await store.recordBranch('task-ev-2', 'wf-1', failed);
    expect((await store.get('wf-1'))?.branches[0]).toEqual(failed);
  });

  it('finish with a completion sets status, result and finishedAt, once per event', async () => {
    await store.start('ev-1', 'wf-1', request, AT);
    await store.markDispatched('wf-1');
    const result = { keywords: [{ term: 'document', score: 1 }], nested: { list: [1, 2, 3] } };
    const finishedAt = '2025-03-04T05:07:00.000Z';
    await store.finish('done-ev', 'wf-1', finishedAt, {
      completed: { skill: 'keywords', branchCount: 3, succeeded: 3, failed: 0, result },
    });
    await store.finish('done-ev', 'wf-1', '2099-01-01T00:00:00.000Z', {
      completed: { skill: 'keywords', branchCount: 3, succeeded: 3, failed: 0, result: { other: true } },
    });
    const view = await store.get('wf-1');
    expect(view).toMatchObject({ status: 'completed', result, finishedAt });
    expect(view?.reason).toBeUndefined();
    // a finished workflow is not dispatched again, even for a request event it has not seen
    expect(await store.start('ev-3', 'wf-1', request, AT)).toBe(false);
    expect((await store.get('wf-1'))?.status).toBe('completed');
  });

  it('finish with a failure sets status failed and the reason', async () => {
    await store.start('ev-1', 'wf-1', request, AT);
    await store.markDispatched('wf-1');
    const reason = '1 of 3 branch(es) failed: beta: no text';
    await store.finish('fail-ev', 'wf-1', AT, { failed: { reason, failedBranches: ['1:beta'] } });
    const view = await store.get('wf-1');
    expect(view).toMatchObject({ status: 'failed', reason, finishedAt: AT });
    expect(view?.result).toBeUndefined();
    expect(await store.start('ev-1', 'wf-1', request, AT)).toBe(false);
  });

  it('keeps workflows apart', async () => {
    await store.start('ev-1', 'wf-1', request, AT);
    await store.markDispatched('wf-1');
    expect(await store.start('ev-2', 'wf-2', { skill: 'sentiment', inputs: [request.inputs[0]] }, AT)).toBe(true);
    expect((await store.get('wf-2'))?.skill).toBe('sentiment');
    expect((await store.get('wf-2'))?.branches).toHaveLength(1);
    expect((await store.get('wf-1'))?.branches).toHaveLength(3);
  });
});
