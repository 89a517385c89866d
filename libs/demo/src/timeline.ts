import type { BusMessage, EventBus, Reader } from '@agent-mesh/bus';
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
 * Records every event on the given topics through readers — an observer outside the agents,
 * and non-durable, so it leaves no subscription (and no backlog) behind on the broker.
 */
export class EventTimeline {
  readonly entries: TimelineEntry[] = [];
  private readonly readers: Reader[] = [];
  private readonly loops: Promise<void>[] = [];
  private stopped = false;

  constructor(
    private readonly bus: EventBus,
    private readonly registry: EventRegistry,
    private readonly naming: TopicNaming,
  ) {}

  async watch(topics: readonly string[]): Promise<void> {
    for (const short of topics) {
      const reader = await this.bus.createReader({ topic: qualifyTopic(this.naming, short), startMessageId: 'latest' });
      this.readers.push(reader);
      this.loops.push(this.follow(reader, short));
    }
  }

  private async follow(reader: Reader, topic: string): Promise<void> {
    while (!this.stopped) {
      let message: BusMessage | null;
      try {
        message = await reader.readNext(200);
      } catch {
        return; // closed
      }
      if (message) this.record(message, topic);
    }
  }

  private record(message: BusMessage, topic: string): void {
    const decoded = this.registry.decode(message.payload);
    if (!decoded.ok) return;
    const { envelope } = decoded;
    const data = envelope.data as { branchIndex?: unknown };
    this.entries.push({
      at: message.publishTime,
      source: envelope.source,
      type: envelope.type,
      correlationId: envelope.correlationId,
      topic,
      detail: typeof data.branchIndex === 'number' ? `branch ${data.branchIndex}` : undefined,
    });
  }

  forWorkflow(correlationId: string): TimelineEntry[] {
    return this.entries.filter((e) => e.correlationId === correlationId).sort((a, b) => a.at - b.at);
  }

  /** Reads what is still in flight, then closes the readers. */
  async close(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 250));
    this.stopped = true;
    await Promise.allSettled(this.loops);
    await Promise.allSettled(this.readers.map((r) => r.close()));
  }
}
