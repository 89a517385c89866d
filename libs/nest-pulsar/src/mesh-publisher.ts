import { Inject, Injectable } from '@nestjs/common';
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
import { nextTraceparent } from './trace';

/** Largest payload published: Pulsar's default `maxMessageSize` (5 MiB). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 5 * 1024 * 1024;

export interface PublishOptions extends NewEventOptions {
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
  constructor(@Inject(MESH_TRANSPORT_OPTIONS) private readonly options: MeshTransportOptions) {}

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
    return new MeshPublisher({ ...this.options, origin: { ...this.options.origin, source: `${role}@${instance}` } });
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

  async publish<TData extends object>(
    topic: string,
    definition: EventDefinition<TData>,
    data: TData,
    options: PublishOptions,
  ): Promise<EventEnvelope<TData>> {
    const traceparent = options.traceparent ?? nextTraceparent(options.causedBy?.traceparent);
    // In a rebuild, an event published without its id fixed takes the log's (see EventStamps).
    const known =
      options.id === undefined && this.options.stamps ? this.stamp(topic, definition, options.causedBy) : undefined;
    const origin = known ? { ...this.options.origin, source: known.source } : this.options.origin;
    const { envelope, payload } = this.options.registry.createEncoded(definition, data, origin, {
      ...options,
      ...(known ? { id: known.id, occurredAt: known.occurredAt } : {}),
      traceparent,
    });
    this.checkSize(payload);
    const properties = envelopeProperties(envelope);
    const deliverAt =
      options.deliverAt ?? (options.deliverAfterMs !== undefined ? Date.now() + options.deliverAfterMs : undefined);
    if (deliverAt !== undefined) properties[EnvelopeProperties.deliverAt] = String(deliverAt);
    await this.options.bus.publish(qualifyTopic(this.options.naming, topic), {
      payload,
      key: options.key ?? envelope.correlationId,
      properties,
      eventTime: Date.parse(envelope.occurredAt),
      deliverAfterMs: options.deliverAfterMs,
      deliverAt: options.deliverAt,
    });
    return envelope;
  }

  private checkSize(payload: Buffer): void {
    const limit = this.options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    if (payload.length > limit) throw new PayloadTooLargeError(payload.length, limit);
  }
}
