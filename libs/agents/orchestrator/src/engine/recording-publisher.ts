import { createMeshEventRegistry, uuidv7, type EventDefinition, type EventEnvelope } from '@agent-mesh/contracts';
import type { PublishOptions } from '@agent-mesh/nest-pulsar';
import type { EventPublisher } from './outgoing';

/*
 * Test support for the engine's specs (not exported from the lib): a publisher that records what
 * the engine publishes, and small makers of inputs and causes.
 */

/** One published event, as the broker would carry it (validated against the contracts like the real publisher). */
export interface Published {
  readonly topic: string;
  readonly type: string;
  readonly key: string;
  readonly data: Record<string, unknown>;
  readonly causationId?: string;
  readonly deliverAfterMs?: number;
}

/** Publishes nowhere: records each event, after building and validating its envelope as MeshPublisher does. */
export class RecordingPublisher implements EventPublisher {
  readonly published: Published[] = [];
  private readonly registry = createMeshEventRegistry();

  constructor(readonly source = 'orchestrator@engine-spec') {}

  async publish<TData extends object>(
    topic: string,
    definition: EventDefinition<TData>,
    data: TData,
    options: PublishOptions,
  ): Promise<EventEnvelope<TData>> {
    const { envelope } = this.registry.createEncoded(
      definition,
      data,
      { source: this.source, region: 'test' },
      options,
    );
    this.published.push({
      topic,
      type: definition.type,
      key: options.key ?? envelope.correlationId,
      data: Object.fromEntries(Object.entries(data)),
      causationId: envelope.causationId,
      deliverAfterMs: options.deliverAfterMs,
    });
    return envelope;
  }

  /** What was published since the last call. */
  take(): Published[] {
    return this.published.splice(0);
  }
}

export const doc = (id: string, text: string) => ({ id, text });

/** A fresh cause: what an event handler passes the engine. */
export const cause = () => ({ id: uuidv7(), occurredAt: new Date().toISOString() });

/** `<type> <topic>` of each event but the timers. */
export const types = (events: readonly Published[]) =>
  events.filter((e) => e.topic !== 'workflow.timers').map((e) => `${e.type} ${e.topic}`);
