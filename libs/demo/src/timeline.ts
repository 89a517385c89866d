import type { Consumer, EventBus } from '@agent-mesh/bus';
import { qualifyTopic, type EventRegistry, type TopicNaming } from '@agent-mesh/contracts';

export interface TimelineEntry {
  readonly at: number;
  readonly source: string;
  readonly type: string;
  readonly correlationId: string;
  readonly topic: string;
  readonly detail?: string;
}

/**
 * Records every event on the given topics through its own Exclusive subscriptions — an
 * observer like any other agent, not a hook inside them.
 */
export class EventTimeline {
  readonly entries: TimelineEntry[] = [];
  private readonly consumers: Consumer[] = [];

  constructor(
    private readonly bus: EventBus,
    private readonly registry: EventRegistry,
    private readonly naming: TopicNaming,
  ) {}

  async watch(topics: readonly string[]): Promise<void> {
    for (const short of topics) {
      const topic = qualifyTopic(this.naming, short);
      const consumer = await this.bus.subscribe(
        { topic, subscription: `timeline-${process.pid}`, type: 'Exclusive', initialPosition: 'latest', receiverQueueSize: 1000 },
        async (message, c) => {
          const decoded = this.registry.decode(message.payload);
          if (decoded.ok) {
            const { envelope } = decoded;
            const data = envelope.data as { branchIndex?: unknown };
            this.entries.push({
              at: message.publishTime,
              source: envelope.source,
              type: envelope.type,
              correlationId: envelope.correlationId,
              topic: short,
              detail: typeof data.branchIndex === 'number' ? `branch ${data.branchIndex}` : undefined,
            });
          }
          await c.ack(message);
        },
      );
      this.consumers.push(consumer);
    }
  }

  forWorkflow(correlationId: string): TimelineEntry[] {
    return this.entries.filter((e) => e.correlationId === correlationId).sort((a, b) => a.at - b.at);
  }

  async close(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.close()));
  }
}
