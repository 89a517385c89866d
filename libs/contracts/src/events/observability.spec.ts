// contracts does not load the Reflect metadata polyfill itself (class-transformer's @Type needs it).
import 'reflect-metadata';
import type { EventOrigin } from '../registry';
import { ContractValidationError } from '../validation';
import { createMeshEventRegistry } from './index';
import { AgentHeartbeatV1, BrokerStatsV1, type AgentHeartbeat, type BrokerStats } from './observability';

const origin: EventOrigin = { source: 'worker@w-1', region: 'test' };

function heartbeat(extra: Partial<AgentHeartbeat> = {}): AgentHeartbeat {
  return {
    agentId: 'worker@w-1',
    role: 'worker',
    region: 'test',
    pid: 4242,
    startedAt: '2026-12-03T07:00:00.000Z',
    at: '2026-12-03T07:00:05.000Z',
    counters: { handled: 10, failed: 2, deadLettered: 1, inFlight: 0 },
    ...extra,
  };
}

function stats(extra: Partial<BrokerStats> = {}): BrokerStats {
  return {
    at: '2026-12-03T07:00:10.000Z',
    broker: 'pulsar',
    subscriptions: [{ topic: 'tasks.keywords', subscription: 'worker', backlog: 12, msgRateOut: 3.5, consumers: 2 }],
    deadLetters: 0,
    ...extra,
  };
}

describe('agent.heartbeat', () => {
  const registry = createMeshEventRegistry();

  it('survives a round trip, per-type counters and skills included', () => {
    const data = heartbeat({
      byType: [{ type: 'task.assigned', handled: 10, failed: 2, deadLettered: 1 }],
      skills: ['keywords'],
    });
    const decoded = registry.decode(
      JSON.stringify(registry.create(AgentHeartbeatV1, data, origin, { correlationId: data.agentId })),
    );
    expect(decoded.ok && decoded.envelope.data).toEqual(data);
  });

  it('refuses negative counters and a missing start time, naming the field', () => {
    const bad = { ...heartbeat({ counters: { handled: -1, failed: 0, deadLettered: 0, inFlight: 0 } }) };
    expect(() => registry.create(AgentHeartbeatV1, bad, origin, { correlationId: 'x' })).toThrow(/counters\.handled/);
    const { startedAt: _dropped, ...noStart } = heartbeat();
    expect(() => registry.create(AgentHeartbeatV1, noStart as AgentHeartbeat, origin, { correlationId: 'x' })).toThrow(
      ContractValidationError,
    );
  });
});

describe('broker.stats', () => {
  const registry = createMeshEventRegistry();

  it('survives a round trip', () => {
    const data = stats();
    const decoded = registry.decode(
      JSON.stringify(registry.create(BrokerStatsV1, data, origin, { correlationId: 'stats' })),
    );
    expect(decoded.ok && decoded.envelope.data).toEqual(data);
  });

  it('refuses an unknown broker kind and a negative backlog', () => {
    expect(() => registry.create(BrokerStatsV1, stats({ broker: 'kafka' }), origin, { correlationId: 's' })).toThrow(
      /broker/,
    );
    const negative = stats({ subscriptions: [{ topic: 't', subscription: 's', backlog: -1, msgRateOut: 0 }] });
    expect(() => registry.create(BrokerStatsV1, negative, origin, { correlationId: 's' })).toThrow(/backlog/);
  });
});
