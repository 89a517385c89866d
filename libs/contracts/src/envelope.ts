import { IsISO8601, IsInt, IsNotEmpty, IsObject, IsOptional, IsString, Matches, Min } from 'class-validator';
import { UUID_PATTERN } from './uuid';

/** What every message on the mesh carries. `data` is the typed, validated body. */
export interface EventEnvelope<TData = unknown> {
  readonly id: string;
  readonly type: string;
  readonly version: number;
  readonly correlationId: string;
  readonly causationId?: string;
  readonly source: string;
  readonly region: string;
  /**
   * The home of the workflow this event belongs to (geo-replication, docs/geo.md): the region
   * that accepted it, `us-east`, or `us-east#2` once that region came back from two adoptions.
   * Passed on from cause to effect like the correlation id; absent outside a geo set.
   */
  readonly home?: string;
  readonly occurredAt: string;
  readonly traceparent?: string;
  readonly data: TData;
}

/** A workflow's home: its region, with `#<epoch>` after that region's workflows were adopted `epoch` times. */
export const HOME_PATTERN = /^[A-Za-z0-9_-]+(#[1-9][0-9]*)?$/;

export const TRACEPARENT_PATTERN = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The envelope's header fields, validated before the body is looked at. */
export class EnvelopeHeader {
  @Matches(UUID_PATTERN, { message: 'id must be a UUID' })
  id!: string;

  @IsString()
  @Matches(/^[a-z][a-z0-9]*(\.[a-z][a-z0-9-]*)+$/, { message: 'type must look like "task.completed"' })
  type!: string;

  @IsInt()
  @Min(1)
  version!: number;

  @IsString()
  @IsNotEmpty()
  correlationId!: string;

  @IsOptional()
  @IsString()
  causationId?: string;

  @IsString()
  @IsNotEmpty()
  source!: string;

  @IsString()
  @IsNotEmpty()
  region!: string;

  @IsOptional()
  @Matches(HOME_PATTERN, { message: 'home must be a region, or region#epoch (e.g. us-east#1)' })
  home?: string;

  @IsISO8601()
  occurredAt!: string;

  @IsOptional()
  @Matches(TRACEPARENT_PATTERN, { message: 'traceparent must be W3C trace context' })
  traceparent?: string;

  @IsObject()
  data!: Record<string, unknown>;
}

/** Property names under which envelope fields are mirrored on the broker message. */
export const EnvelopeProperties = {
  eventId: 'mesh.event-id',
  eventType: 'mesh.event-type',
  eventVersion: 'mesh.event-version',
  correlationId: 'mesh.correlation-id',
  source: 'mesh.source',
  region: 'mesh.region',
  home: 'mesh.home',
  traceparent: 'traceparent',
  /**
   * Not an envelope field: set by the publisher on a delayed message (a timer), the epoch ms it
   * is due. A reader sees a delayed message at once; this says when subscribers get it (the rebuild
   * replays a timer at that time, and leaves one not due yet to fire live).
   */
  deliverAt: 'mesh.deliver-at',
} as const;
