import {
  createMeshEventRegistry,
  SagaAbortV1,
  SagaCompensationRetryV1,
  SagaDeadlineV1,
  SagaStartV1,
  SagaWaitExpiredV1,
  TaskCompletedV1,
  TaskFailedV1,
  type EventDefinition,
  type EventEnvelope,
} from '@agent-mesh/contracts';
import type { MeshPublisher, PublishOptions } from '@agent-mesh/nest-pulsar';
import type { MeshConfig } from '@agent-mesh/runtime';
import { MemoryStateStore } from '@agent-mesh/state';
import { SagaCoordinatorController } from './saga-coordinator.controller';

interface Published {
  readonly id: string;
  readonly topic: string;
  readonly type: string;
  readonly data: Record<string, unknown>;
  readonly deliverAfterMs?: number;
}

const registry = createMeshEventRegistry();
const WF = 'wf-1';

/** Publishes nowhere: records each event after validating it against the contracts, as MeshPublisher does. */
class RecordingPublisher {
  readonly published: Published[] = [];
  /** Event types whose next publish fails (as a crash between a write and its announcement would). */
  readonly failNext = new Set<string>();
  as(): this {
    return this;
  }
  async publish<T extends object>(topic: string, definition: EventDefinition<T>, data: T, options: PublishOptions) {
    const { envelope } = registry.createEncoded(
      definition,
      data,
      { source: 'saga-coordinator@spec', region: 't' },
      options,
    );
    if (this.failNext.delete(definition.type)) throw new Error(`publish of ${definition.type} failed`);
    this.published.push({
      id: envelope.id,
      topic,
      type: definition.type,
      data: Object.fromEntries(Object.entries(data)),
      deliverAfterMs: options.deliverAfterMs,
    });
    return envelope;
  }
  take(): Published[] {
    return this.published.splice(0);
  }
}

/** An event as a handler receives it. */
const incoming = <T extends object>(definition: EventDefinition<T>, data: T): EventEnvelope<T> =>
  registry.createEncoded(definition, data, { source: 'spec@1', region: 't' }, { correlationId: WF }).envelope;

const spec = (name: string, deadlineMs = 1000) => ({
  name,
  action: { skill: 'ledger', input: { id: name, text: `reserve ${name}` } },
  compensation: { skill: 'ledger', input: { id: name, text: `release ${name}` } },
  deadlineMs,
});
const taskId = (index: number, role: 'action' | 'compensation') => `${WF}:root:saga:${index}:${role}`;
const result = (index: number, role: 'action' | 'compensation', attempt = 1) => ({
  taskId: taskId(index, role),
  branchIndex: index,
  branchCount: 1,
  skill: 'ledger',
  stepPath: 'root',
  attempt,
  inputId: `s${index}`,
  worker: 'w',
});
const completed = (index: number, role: 'action' | 'compensation', attempt = 1) =>
  incoming(TaskCompletedV1, { ...result(index, role, attempt), output: {}, durationMs: 1 });
const failed = (index: number, role: 'action' | 'compensation', attempt = 1) =>
  incoming(TaskFailedV1, { ...result(index, role, attempt), error: 'no' });

const kinds = (events: readonly Published[]) =>
  events.map((e) =>
    e.type === 'saga.step'
      ? `step ${String(e.data['name'])} ${String(e.data['phase'])}`
      : e.type === 'task.assigned'
        ? `assign ${String(e.data['taskId']).replace(`${WF}:root:saga:`, '')} #${String(e.data['attempt'])}`
        : e.type,
  );

describe('SagaCoordinatorController', () => {
  let publisher: RecordingPublisher;
  let saga: SagaCoordinatorController;
  const saved = { ...process.env };

  beforeEach(() => {
    process.env['SAGA_COMPENSATION_ATTEMPTS'] = '3';
    process.env['SAGA_COMPENSATION_BACKOFF_MS'] = '100';
    process.env['SAGA_RESULT_WAIT_MS'] = '5000';
    publisher = new RecordingPublisher();
    saga = new SagaCoordinatorController(publisher as unknown as MeshPublisher, new MemoryStateStore(), {
      taskTimeoutMs: 60_000,
      workflowRetentionMs: 60_000,
    } as MeshConfig);
  });
  afterEach(() => (process.env = { ...saved }));

  const start = async (...names: string[]) => {
    await saga.onStart(incoming(SagaStartV1, { stepPath: 'root', steps: names.map((n) => spec(n)) }));
  };

  it('applies each event once: a redelivered start, result or compensation undoes nothing twice, and re-announces the same events', async () => {
    const all: Published[] = [];
    const deliverTwice = async <T>(handler: (event: T) => Promise<void>, event: T) => {
      await handler(event);
      const first = publisher.take();
      await handler(event);
      const again = publisher.take();
      all.push(...first, ...again);
      // The redelivery publishes nothing new: the same announcements (same ids), the same tasks (same task ids).
      const ids = new Set(first.map((e) => e.id));
      expect(
        again
          .filter((e) => e.type !== 'task.assigned' && !e.type.startsWith('saga.deadline'))
          .map((e) => e.id)
          .every((id) => ids.has(id)),
      ).toBe(true);
      return kinds(first);
    };
    const begin = incoming(SagaStartV1, { stepPath: 'root', steps: [spec('one'), spec('two')] });
    expect(await deliverTwice((e) => saga.onStart(e), begin)).toEqual([
      'assign 0:action #1',
      'saga.deadline',
      'step one started',
    ]);
    expect(await deliverTwice((e) => saga.onTaskCompleted(e), completed(0, 'action'))).toEqual([
      'step one completed',
      'assign 1:action #1',
      'saga.deadline',
      'step two started',
    ]);
    expect(await deliverTwice((e) => saga.onTaskFailed(e), failed(1, 'action'))).toEqual([
      'step two failed',
      'step one compensating',
      'assign 0:compensation #1',
    ]);
    expect(await deliverTwice((e) => saga.onTaskCompleted(e), completed(0, 'compensation'))).toEqual([
      'step one compensated',
      'saga.compensated',
    ]);
    // Every compensation task is the one task id: the skill applies it once.
    const undo = all.filter((e) => e.type === 'task.assigned' && String(e.data['taskId']).endsWith(':compensation'));
    expect(new Set(undo.map((e) => e.data['taskId']))).toEqual(new Set([taskId(0, 'compensation')]));
    expect(new Set(all.filter((e) => e.type === 'saga.compensated').map((e) => e.id)).size).toBe(1);
  });

  it('a later event for an ended saga announces nothing', async () => {
    await start('one');
    await saga.onTaskFailed(failed(0, 'action'));
    publisher.take();
    // nothing took effect: the saga ends compensated at once
    const other = incoming(SagaAbortV1, { stepPath: 'root', reason: 'late' });
    await saga.onAbort(other);
    expect(publisher.take()).toEqual([]); // not the event that ended it: announces nothing
  });

  it('a crash between the end and its announcement: the redelivered result announces it, under the same id', async () => {
    await start('one', 'two');
    await saga.onTaskCompleted(completed(0, 'action'));
    await saga.onTaskFailed(failed(1, 'action'));
    publisher.take();
    const undone = completed(0, 'compensation');
    publisher.failNext.add('saga.compensated');
    await expect(saga.onTaskCompleted(undone)).rejects.toThrow('publish of saga.compensated failed');
    expect(kinds(publisher.take())).toEqual(['step one compensated']);
    await saga.onTaskCompleted(undone); // redelivered
    const again = publisher.take();
    expect(kinds(again)).toEqual(['step one compensated', 'saga.compensated']);
    await saga.onTaskCompleted(undone); // and once more: the same event again
    const third = publisher.take();
    expect(third.map((e) => e.id)).toEqual(again.map((e) => e.id));
  });

  it('an action completing after its deadline is undone before the steps it follows; the saga ends after it', async () => {
    await start('one', 'two');
    await saga.onTaskCompleted(completed(0, 'action'));
    publisher.take();
    await saga.onDeadline(incoming(SagaDeadlineV1, { stepPath: 'root', index: 1, deadlineMs: 1000 }));
    const atDeadline = publisher.take();
    expect(kinds(atDeadline)).toEqual(['saga.wait-expired', 'step two failed']); // nothing undone yet: two may still act
    expect(atDeadline[0]).toMatchObject({ topic: 'timers', deliverAfterMs: 5000 });

    await saga.onTaskCompleted(completed(1, 'action')); // late
    expect(kinds(publisher.take())).toEqual([
      'step two completed',
      'step two compensating',
      'assign 1:compensation #1',
    ]);
    await saga.onTaskCompleted(completed(1, 'compensation'));
    expect(kinds(publisher.take())).toEqual([
      'step two compensated',
      'step one compensating',
      'assign 0:compensation #1',
    ]);
    await saga.onTaskCompleted(completed(0, 'compensation'));
    const end = publisher.take();
    expect(kinds(end)).toEqual(['step one compensated', 'saga.compensated']);
    expect(end[1].data).toMatchObject({ compensated: ['two', 'one'] });
    // The wait expiring afterwards changes nothing.
    await saga.onWaitExpired(incoming(SagaWaitExpiredV1, { stepPath: 'root', index: 1, waitedMs: 5000 }));
    expect(publisher.take()).toEqual([]);
  });

  it('an action still out at the abort is waited for: failing, it has nothing to undo', async () => {
    await start('one', 'two');
    await saga.onTaskCompleted(completed(0, 'action'));
    publisher.take();
    await saga.onAbort(incoming(SagaAbortV1, { stepPath: 'root', reason: 'cancelled' }));
    // two is out: its result comes first, awaited for SAGA_RESULT_WAIT_MS at most (not its own deadline)
    expect(publisher.take().map((e) => [e.type, e.deliverAfterMs])).toEqual([['saga.wait-expired', 5000]]);
    await saga.onTaskFailed(failed(1, 'action'));
    expect(kinds(publisher.take())).toEqual(['step two failed', 'step one compensating', 'assign 0:compensation #1']);
  });

  it('an action that never reports is undone anyway once the wait after its deadline expires', async () => {
    await start('one');
    publisher.take();
    await saga.onDeadline(incoming(SagaDeadlineV1, { stepPath: 'root', index: 0, deadlineMs: 1000 }));
    publisher.take();
    await saga.onWaitExpired(incoming(SagaWaitExpiredV1, { stepPath: 'root', index: 0, waitedMs: 5000 }));
    expect(kinds(publisher.take())).toEqual(['step one compensating', 'assign 0:compensation #1']);
    await saga.onTaskCompleted(completed(0, 'compensation'));
    expect(kinds(publisher.take())).toEqual(['step one compensated', 'saga.compensated']);
    // Reporting after all, it is recorded for an operator (its compensation may have come first), once.
    const late = completed(0, 'action');
    await saga.onTaskCompleted(late);
    const [entry, ...rest] = publisher.take();
    expect(rest).toEqual([]);
    expect(entry.data['detail']).toContain('done after it was given up as unknown');
    await saga.onTaskCompleted(late);
    expect(publisher.take()).toEqual([]);
  });

  it('a duplicate result of an action already undone starts nothing and announces nothing new', async () => {
    await start('one', 'two');
    await saga.onTaskCompleted(completed(0, 'action'));
    await saga.onTaskFailed(failed(1, 'action'));
    await saga.onTaskCompleted(completed(0, 'compensation'));
    const before = new Set(publisher.take().map((e) => e.id));
    await saga.onTaskCompleted(completed(0, 'action'));
    await saga.onTaskFailed(failed(1, 'action'));
    const after = publisher.take();
    expect(after.filter((e) => e.type !== 'saga.step')).toEqual([]);
    expect(after.every((e) => before.has(e.id))).toBe(true); // at most the same announcement again
  });

  it('retries a failed compensation after a growing backoff, then fails the saga naming the steps left to undo', async () => {
    await start('one', 'two', 'three');
    await saga.onTaskCompleted(completed(0, 'action'));
    await saga.onTaskCompleted(completed(1, 'action'));
    await saga.onTaskFailed(failed(2, 'action'));
    publisher.take();
    const delays: number[] = [];
    for (const attempt of [1, 2]) {
      await saga.onTaskFailed(failed(1, 'compensation', attempt));
      const [event, retry] = publisher.take();
      expect(event.data['detail']).toContain(`attempt ${attempt} of 3 failed`);
      expect(retry).toMatchObject({ type: 'saga.compensation-retry', topic: 'timers', data: { attempt: attempt + 1 } });
      delays.push(Number(retry.deliverAfterMs));
      await saga.onCompensationRetry(
        incoming(SagaCompensationRetryV1, { stepPath: 'root', index: 1, attempt: attempt + 1 }),
      );
      expect(kinds(publisher.take())).toEqual([`assign 1:compensation #${attempt + 1}`]);
    }
    // initial 100 ms, then 200 ms, half of each drawn at random
    expect(delays[0]).toBeGreaterThanOrEqual(50);
    expect(delays[0]).toBeLessThanOrEqual(100);
    expect(delays[1]).toBeGreaterThanOrEqual(100);
    expect(delays[1]).toBeLessThanOrEqual(200);
    await saga.onTaskFailed(failed(0, 'compensation', 1)); // not a compensation in flight: ignored
    expect(publisher.take()).toEqual([]);
    const last = failed(1, 'compensation', 3);
    await saga.onTaskFailed(last);
    await saga.onTaskFailed(last); // redelivered: the same announcement
    const [sagaFailed, ...rest] = publisher.take();
    expect(rest.map((e) => e.id)).toEqual([sagaFailed.id]);
    expect(sagaFailed).toMatchObject({ type: 'saga.failed', data: { leftToUndo: ['two', 'one'] } });
    expect(sagaFailed.data['reason']).toContain(
      'compensation of two failed 3 time(s), last: no; left to undo: two, one',
    );
  });
});
