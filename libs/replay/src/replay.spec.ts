import { MemoryBroker, type BusMessage } from '@agent-mesh/bus';
import { EnvelopeProperties, qualifyTopic, Topics } from '@agent-mesh/contracts';
import { MemoryStateStore } from '@agent-mesh/state';
import { formatReplayReport, replayFailed, type ReplayReport } from './command';
import { mergeInLogOrder, toLogged } from './event-log';
import { LogStamps } from './log-stamps';
import { ReplayStateStore } from './replay-state-store';
import { findRunningWorkflows } from './running';

const message = (
  topic: string,
  publishTime: number,
  id: string,
  deliverAt?: number,
  causationId?: string,
): BusMessage => ({
  topic,
  messageId: `${topic}:${id}`,
  payload: Buffer.from(JSON.stringify({ id, causationId })),
  properties: {
    [EnvelopeProperties.eventId]: id,
    [EnvelopeProperties.correlationId]: 'wf',
    ...(deliverAt === undefined ? {} : { [EnvelopeProperties.deliverAt]: String(deliverAt) }),
  },
  publishTime,
  redeliveryCount: 0,
});

describe('mergeInLogOrder', () => {
  it('orders topics by when subscribers got each message: a timer at its due time, each topic in its own order', () => {
    const results = [message('results', 10, 'r1'), message('results', 30, 'r2'), message('results', 30, 'r0')];
    const timers = [message('timers', 5, 't-late', 100), message('timers', 6, 't-soon', 20)];
    const merged = mergeInLogOrder([results.map(toLogged), timers.map(toLogged)]);
    // r2 and r0 share a time: the topic's own order stands (r2 was published first)
    expect(merged.map((m) => m.eventId)).toEqual(['r1', 't-soon', 'r2', 'r0', 't-late']);
  });

  it('puts an event the broker stamped before its cause right after the cause, and its own effects after it', () => {
    // The accepting process starts a workflow while publishing workflow.submitted: the start's
    // events (a seed entry, and what that entry caused) can be stamped before the submission.
    const events = [
      message('events', 20, 'submitted'),
      message('events', 25, 'step.started', undefined, 'submitted'),
      message('events', 40, 'completed', undefined, 'elsewhere'),
    ];
    const board = [message('board', 10, 'seed-0', undefined, 'submitted'), message('board', 30, 'other')];
    const tasks = [message('tasks', 12, 'task-of-seed-0', undefined, 'seed-0'), message('tasks', 15, 'unrelated')];
    const merged = mergeInLogOrder([events, board, tasks].map((topic) => topic.map(toLogged)));
    expect(merged.map((m) => m.eventId)).toEqual([
      'unrelated',
      'submitted',
      'seed-0',
      'task-of-seed-0',
      'step.started',
      'other',
      'completed',
    ]);
  });
});

describe('ReplayStateStore', () => {
  it('writes under the run’s markers, whatever live markers are left, and records the live ones', async () => {
    const inner = new MemoryStateStore();
    await inner.applyOnce('seen', [{ op: 'set', key: 'old', value: '1' }]);
    const run = new ReplayStateStore(inner, 'run-1');

    const first = await run.applyOnce('seen', [{ op: 'set', key: 'k', value: 'rebuilt' }]);
    const again = await run.applyOnce('seen', [{ op: 'set', key: 'k', value: 'twice' }]);
    expect([first.applied, again.applied]).toEqual([true, false]);
    expect(await inner.get('k')).toBe('rebuilt');

    await run.applyOnce('fresh', [{ op: 'set', key: 'f', value: '1' }]);
    // a live redelivery of what the run applied finds it applied
    expect((await inner.applyOnce('fresh', [{ op: 'set', key: 'f', value: 'live' }])).applied).toBe(false);
    expect(await inner.get('f')).toBe('1');
  });
});

describe('findRunningWorkflows', () => {
  it('lists the workflows begun on workflow.events without a terminal event there, from the log', async () => {
    const broker = new MemoryBroker();
    const bus = broker.connect();
    const naming = { tenant: 'agentmesh', namespace: 'mesh' };
    const publish = (correlationId: string, type: string) =>
      bus.publish(qualifyTopic(naming, Topics.workflowEvents), {
        payload: JSON.stringify({ id: `${correlationId}-${type}`, type, correlationId }),
      });
    await publish('a', 'workflow.submitted');
    await publish('b', 'workflow.requested');
    await publish('c', 'workflow.submitted');
    await publish('a', 'step.completed');
    await publish('b', 'workflow.completed');
    await publish('c', 'workflow.timed-out');
    await publish('d', 'workflow.submitted');
    expect(await findRunningWorkflows(bus, naming)).toEqual(['a', 'd']);
    await bus.close();
    broker.shutdown();
  });
});

describe('LogStamps', () => {
  const logged = (topic: string, id: string, type: string, causationId: string, data: object = { n: 1 }) => {
    const bare = message(topic, 1, id);
    return toLogged({
      ...bare,
      properties: { ...bare.properties, [EnvelopeProperties.eventType]: type },
      payload: Buffer.from(
        JSON.stringify({
          id,
          type,
          causationId,
          occurredAt: '2026-01-02T03:04:05.678Z',
          source: 'orchestrator@o-1',
          data,
        }),
      ),
    });
  };

  it('answers with the log’s event of that topic and type the handled event caused, in order, each once', () => {
    const stamps = new LogStamps();
    stamps.add([
      logged('events', 'a', 'step.started', 'cause'),
      logged('events', 'b', 'step.started', 'cause'),
      logged('tasks', 'c', 'task.assigned', 'cause'),
      logged('results', 'cause', 'task.completed', 'earlier'),
    ]);
    expect(stamps.stampFor('tasks', 'task.assigned', 'cause')).toEqual({
      id: 'c',
      occurredAt: new Date('2026-01-02T03:04:05.678Z'),
      source: 'orchestrator@o-1',
    });
    expect(stamps.stampFor('events', 'step.started', 'cause')?.id).toBe('a');
    expect(stamps.stampFor('events', 'step.started', 'cause')?.id).toBe('b');
    expect(stamps.unmatched).toEqual([]);
    // a third one the log does not have: the handler decided otherwise than live
    expect(stamps.stampFor('events', 'step.started', 'cause')).toBeUndefined();
    // named by the event it was handling, as the log has it
    expect(stamps.unmatched).toEqual([
      {
        topic: 'events',
        type: 'step.started',
        difference: 'not-in-log',
        causationId: 'cause',
        causeType: 'task.completed',
        workflowId: 'wf',
      },
    ]);
  });

  it('reports a rebuilt output that took a logged event’s id but carries other data', () => {
    const stamps = new LogStamps();
    stamps.add([
      logged('fills', 'f', 'market.fill', 'close', { bidId: 'ask:worker@a', price: 1.5 }),
      logged('timers', 'close', 'market.window-close', 'bid'),
    ]);
    const output = (data: object) =>
      JSON.stringify({ id: 'f', type: 'market.fill', causationId: 'close', occurredAt: 'x', source: 's', data });
    stamps.checkData('fills', output({ bidId: 'ask:worker@a', price: 1.5 }));
    expect(stamps.unmatched).toEqual([]);
    // the rebuilt market maker filled the ask from another bidder than live did
    stamps.checkData('fills', output({ bidId: 'ask:worker@z', price: 1.5 }));
    expect(stamps.unmatched).toEqual([
      {
        topic: 'fills',
        type: 'market.fill',
        difference: 'other-data',
        causationId: 'close',
        causeType: 'market.window-close',
        workflowId: 'wf',
      },
    ]);
  });
});

describe('formatReplayReport', () => {
  it('prints a line per workflow, the totals, and what went wrong', () => {
    const report: ReplayReport = {
      selection: 'workflows',
      runId: 'run-1',
      topics: ['t1', 't2'],
      workflows: [{ workflowId: 'wf-1', events: 12, deletedKeys: 3, pendingTimers: 1 }],
      deliveries: 20,
      unloggedOutputs: [],
      pendingTimers: [],
      dropped: 7,
      unsettled: [
        {
          workflowId: 'wf-1',
          eventId: 'e',
          type: 'task.completed',
          topic: 't1',
          subscription: 's',
          settlement: 'nack',
        },
      ],
      unmatchedOutputs: [],
    };
    expect(formatReplayReport(report).split('\n')).toEqual([
      'rebuilt wf-1: 12 events, 3 keys replaced, 1 timers not due yet (they fire live)',
      'replay run-1: 1 workflows, 20 handler calls over 2 topics, 7 outputs not republished',
      '  not taken (nack): task.completed e of wf-1 in s on t1',
    ]);
    expect(replayFailed(report)).toBe(true);
    expect(replayFailed({ ...report, unsettled: [] })).toBe(false);
  });
});
