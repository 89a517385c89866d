import { Inject, Injectable, Optional } from '@nestjs/common';
import { startPublishTrace, type PublishTrace } from '@agent-mesh/telemetry';
import {
  EnvelopeProperties,
  envelopeProperties,
  PayloadTooLargeError,
  qualifyTopic,
  uuidv7,
  type EventDefinition,
  type EventEnvelope,
  type NewEventOptions,
} from '@agent-mesh/contracts';
import { MESH_TRANSPORT_OPTIONS, type EventStamp, type MeshTransportOptions } from './options';
import { MeshObservers, secondsSince } from './observers';
import { nextTraceparent } from './trace';

const UNTRACED: PublishTrace = { traceparent: '', end: () => undefined };

/** Largest payload published: Pulsar's default `maxMessageSize` (5 MiB). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 5 * 1024 * 1024;

export interface PublishOptions extends NewEventOptions {
  /** The publish's span, opened with `startPublish` where its traceparent had to be known first. */
  readonly trace?: PublishTrace;
  /** Message key; defaults to the correlation id so one workflow's events stay in order. */
  readonly key?: string;
  readonly deliverAfterMs?: number;
  readonly deliverAt?: number;
}

/**
 * Builds, validates and publishes events. Invalid data is refused here, before the broker, and
 * so is a payload over `maxPayloadBytes` (PayloadTooLargeError: a handler that throws it is not
 * retried, its message goes straight to the dead-letter topic).
 */
@Injectable()
export class MeshPublisher {
  constructor(
    @Inject(MESH_TRANSPORT_OPTIONS) private readonly options: MeshTransportOptions,
    /** Told how long each publish took (metrics). */
    @Optional() private readonly observers?: MeshObservers,
  ) {}

  /** `<role>@<instance>` this publisher stamps as the events' source. */
  get source(): string {
    return this.options.origin.source;
  }

  /**
   * A publisher that signs events as `role` (same instance): in the embedded mesh every role
   * shares one process, and the timeline should still say which agent did what.
   */
  as(role: string): MeshPublisher {
    const at = this.options.origin.source.indexOf('@');
    const instance = at >= 0 ? this.options.origin.source.slice(at + 1) : this.options.origin.source;
    return new MeshPublisher(
      { ...this.options, origin: { ...this.options.origin, source: `${role}@${instance}` } },
      this.observers,
    );
  }

  /**
   * The id, time and source of an event about to be published on `topic`, fixed before the
   * publish (so a record of it can be written first): new ones, or the log's in a rebuild.
   */
  stamp(topic: string, definition: EventDefinition<object>, causedBy?: { readonly id: string }): EventStamp {
    const known = this.options.stamps?.stampFor(
      qualifyTopic(this.options.naming, topic),
      definition.type,
      causedBy?.id,
    );
    return known ?? { id: uuidv7(), occurredAt: new Date(), source: this.source };
  }

  /**
   * Opens the span of a publish of `definition` on `topic` (a producer span, when tracing is on;
   * see startPublishTrace). Its `traceparent`, the one the event will carry, is known at once:
   * pass the result as `trace` to `publish`, which ends it. Without tracing, the traceparent
   * continues the cause's trace (or starts one) with a new span id, as before.
   */
  startPublish(
    topic: string,
    definition: Pick<EventDefinition<object>, 'type'>,
    options: { readonly causedBy?: PublishOptions['causedBy']; readonly correlationId?: string } = {},
  ): PublishTrace {
    const causeTraceparent = options.causedBy?.traceparent;
    const trace = startPublishTrace({
      eventType: definition.type,
      topic: qualifyTopic(this.options.naming, topic),
      correlationId: options.correlationId,
      causeTraceparent,
    });
    return trace ?? { ...UNTRACED, traceparent: nextTraceparent(causeTraceparent) };
  }

  async publish<TData extends object>(
    topic: string,
    definition: EventDefinition<TData>,
    data: TData,
    options: PublishOptions,
  ): Promise<EventEnvelope<TData>> {
    // A traceparent given as is (not from a span opened here) is used as is, with no span of this publish.
    const trace = options.trace ?? (options.traceparent ? UNTRACED : this.startPublish(topic, definition, options));
    let envelope: EventEnvelope<TData>;
    try {
      envelope = await this.send(topic, definition, data, options.traceparent ?? trace.traceparent, options);
    } catch (error) {
      trace.end({ error });
      throw error;
    }
    trace.end({ eventId: envelope.id });
    return envelope;
  }

  private async send<TData extends object>(
    topic: string,
    definition: EventDefinition<TData>,
    data: TData,
    traceparent: string,
    options: PublishOptions,
  ): Promise<EventEnvelope<TData>> {
    // In a rebuild, an event published without its id fixed takes the log's (see EventStamps).
    const known =
      options.id === undefined && this.options.stamps ? this.stamp(topic, definition, options.causedBy) : undefined;
    const origin = known ? { ...this.options.origin, source: known.source } : this.options.origin;
    const { envelope, payload } = this.options.registry.createEncoded(definition, data, origin, {
      ...options,
      ...(known ? { id: known.id, occurredAt: known.occurredAt } : {}),
      // A workflow's events keep its home from cause to effect; one begun here is homed here.
      home: options.home ?? options.causedBy?.home ?? this.options.homing?.home,
      traceparent,
    });
    this.checkSize(payload);
    const properties = envelopeProperties(envelope);
    const deliverAt =
      options.deliverAt ?? (options.deliverAfterMs !== undefined ? Date.now() + options.deliverAfterMs : undefined);
    if (deliverAt !== undefined) properties[EnvelopeProperties.deliverAt] = String(deliverAt);
    const started = performance.now();
    let ok = false;
    try {
      await this.options.bus.publish(qualifyTopic(this.options.naming, topic), {
        payload,
        key: options.key ?? envelope.correlationId,
        properties,
        eventTime: Date.parse(envelope.occurredAt),
        deliverAfterMs: options.deliverAfterMs,
        deliverAt: options.deliverAt,
      });
      ok = true;
    } finally {
      this.observers?.published({ topic, type: definition.type, seconds: secondsSince(started), ok });
    }
    return envelope;
  }

  private checkSize(payload: Buffer): void {
    const limit = this.options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    if (payload.length > limit) throw new PayloadTooLargeError(payload.length, limit);
  }
}
