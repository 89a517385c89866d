import { MemoryBroker, type BusMessage } from '@agent-mesh/bus';
import { EnvelopeProperties, qualifyTopic, Topics } from '@agent-mesh/contracts';
import { MemoryStateStore } from '@agent-mesh/state';
import { mergeInLogOrder, toLogged } from './event-log';
import { ReplayStateStore } from './replay-state-store';
import { findRunningWorkflows } from './running';

const message = (topic: string, publishTime: number, id: string, deliverAt?: number): BusMessage => ({
  topic,
  messageId: `${topic}:${id}`,
  payload: Buffer.from('{}'),
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
