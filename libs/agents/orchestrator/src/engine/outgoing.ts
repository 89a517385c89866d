import { uuidv7, type EventDefinition, type EventEnvelope } from '@agent-mesh/contracts';
import type { MeshPublisher } from '@agent-mesh/nest-pulsar';
import type { TimelineEntry } from './workflow-state';

/** The event being handled: what the engine's events are caused by. */
export type Cause = Pick<EventEnvelope, 'id' | 'traceparent'>;

/** What the engine needs of a publisher (a recording one in the engine spec); `stamp` fixes an event's id and time (default: new ones). */
export type EventPublisher = Pick<MeshPublisher, 'source' | 'publish'> & Partial<Pick<MeshPublisher, 'stamp'>>;

/** Events the engine publishes, with their timeline entries (written with the state change they announce). */
export interface Outgoing {
  readonly entries?: readonly TimelineEntry[];
  readonly publish: () => Promise<unknown>;
}

export interface EventOptions {
  /** The step the event is about, on the timeline. */
  readonly stepPath: string;
  /** The timeline's detail. */
  readonly detail?: string;
  /** The message key, when not the workflow id. */
  readonly key?: string;
  /** Delivered this late (a retry's backoff): Pulsar delayed delivery, never a sleep. */
  readonly deliverAfterMs?: number;
}

/** How a command goes out. */
export interface CommandOptions {
  /** Delivered this late (a deadline's timer, a retry's backoff). */
  readonly deliverAfterMs?: number;
}

export const entriesOf = (events: readonly Outgoing[]): TimelineEntry[] => events.flatMap((e) => e.entries ?? []);

/** `first`, then the others side by side once it is out. */
export function thenAll(first: Outgoing, others: readonly Outgoing[]): Outgoing {
  return {
    entries: entriesOf([first, ...others]),
    publish: () => first.publish().then(() => Promise.all(others.map((o) => o.publish()))),
  };
}

/** One after the other, each once the one before it is out. */
export function oneByOne(events: readonly Outgoing[]): Outgoing {
  return {
    entries: entriesOf(events),
    publish: async () => {
      for (const event of events) await event.publish();
    },
  };
}

/** Makes one workflow's outgoing events, caused by the event being handled. */
export class WorkflowEvents {
  constructor(
    readonly workflowId: string,
    readonly cause: Cause,
    private readonly publisher: EventPublisher,
  ) {}

  /**
   * An event with its id and time fixed now, so that its timeline entry can be written with
   * the state change, before the publish.
   */
  event<TData extends object>(
    topic: string,
    definition: EventDefinition<TData>,
    data: TData,
    options: EventOptions,
  ): Outgoing {
    return this.eventAt(topic, definition, () => data, options);
  }

  /**
   * An event whose data counts from its own time (an ask's expiry): the time it is stamped with,
   * so a rebuild, which stamps it with the log's, makes the data live processing made.
   */
  eventAt<TData extends object>(
    topic: string,
    definition: EventDefinition<TData>,
    dataAt: (occurredAt: Date) => TData,
    options: EventOptions,
  ): Outgoing {
    // In a rebuild, the log's (MeshPublisher.stamp): the entry is the one live processing wrote.
    const { id, occurredAt, source } = this.publisher.stamp?.(topic, definition, this.cause) ?? {
      id: uuidv7(),
      occurredAt: new Date(),
      source: this.publisher.source,
    };
    const data = dataAt(occurredAt);
    const { stepPath, detail, key, deliverAfterMs } = options;
    return {
      entries: [{ at: occurredAt.toISOString(), type: definition.type, source, stepPath, detail }],
      publish: () =>
        this.publisher.publish(topic, definition, data, {
          correlationId: this.workflowId,
          causedBy: this.cause,
          id,
          occurredAt,
          key,
          deliverAfterMs: deliverAfterMs || undefined,
        }),
    };
  }

  /** A command to another agent (a saga's start, a solver's): not on the workflow's timeline. */
  command<TData extends object>(
    topic: string,
    definition: EventDefinition<TData>,
    data: TData,
    options: CommandOptions = {},
  ): Outgoing {
    return {
      publish: () =>
        this.publisher.publish(topic, definition, data, {
          correlationId: this.workflowId,
          causedBy: this.cause,
          deliverAfterMs: options.deliverAfterMs || undefined,
        }),
    };
  }
}
