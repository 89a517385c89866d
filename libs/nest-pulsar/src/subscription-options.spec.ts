import { DEFAULT_TOPIC_NAMING } from '@agent-mesh/contracts';
import { conflictingOption, resolveSubscriptions, toSubscribeOptions } from './subscription-options';

const context = { naming: DEFAULT_TOPIC_NAMING, topicVariables: { capability: ['a', 'b'], instance: ['i1'] } };

describe('resolveSubscriptions', () => {
  it('applies every default in one place', () => {
    const [resolved] = resolveSubscriptions({ topic: 'task.results', subscription: 'agg' }, context);
    expect(resolved).toEqual({
      topic: 'persistent://agentmesh/mesh/task.results',
      subscription: 'agg',
      type: 'Shared',
      maxRedeliverCount: 5,
      deadLetterTopic: 'persistent://agentmesh/mesh/mesh.dlq',
      ackTimeoutMs: 0,
      nackRedeliveryDelayMs: 1000,
      initialPosition: 'earliest',
      concurrency: 16,
    });
    expect(toSubscribeOptions(resolved, 'worker@x/agg')).toMatchObject({
      receiverQueueSize: 16,
      consumerName: 'worker@x/agg',
      deadLetter: { maxRedeliverCount: 5, deadLetterTopic: 'persistent://agentmesh/mesh/mesh.dlq' },
    });
  });

  it('expands topic and subscription templates', () => {
    const resolved = resolveSubscriptions({ topic: 'tasks.{capability}', subscription: 'w-{instance}' }, context);
    expect(resolved.map((r) => [r.topic, r.subscription])).toEqual([
      ['persistent://agentmesh/mesh/tasks.a', 'w-i1'],
      ['persistent://agentmesh/mesh/tasks.b', 'w-i1'],
    ]);
    expect(() => resolveSubscriptions({ topic: 't', subscription: 'w-{capability}' }, context)).toThrow(
      /exactly one value/,
    );
  });

  it('compares resolved options: an explicit default agrees with an omitted one', () => {
    const [omitted] = resolveSubscriptions({ topic: 't', subscription: 's' }, context);
    const [explicit] = resolveSubscriptions(
      { topic: 't', subscription: 's', type: 'Shared', deadLetterTopic: 'mesh.dlq' },
      context,
    );
    const [keyShared] = resolveSubscriptions({ topic: 't', subscription: 's', type: 'Key_Shared' }, context);
    expect(conflictingOption(omitted, explicit)).toBeUndefined();
    expect(conflictingOption(omitted, keyShared)).toBe('type');
  });
});
