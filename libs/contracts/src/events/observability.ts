import { Type } from 'class-transformer';
import {
  IsArray,
  IsIn,
  IsInt,
  IsISO8601,
  IsNotEmpty,
  IsNumber,
  IsOptional,
  IsString,
  Min,
  ValidateNested,
} from 'class-validator';
import { defineEvent } from '../registry';

/** What an agent's transport has done with the messages it received since the process started. */
export class MessageCounters {
  /** Handled and acknowledged. */
  @IsInt()
  @Min(0)
  handled!: number;

  /** Handler failures (each failed attempt: nacked for redelivery, retried, or dead-lettered). */
  @IsInt()
  @Min(0)
  failed!: number;

  /** Sent to the dead-letter topic (never handled). */
  @IsInt()
  @Min(0)
  deadLettered!: number;

  /** Being handled right now (a gauge, not a total). */
  @IsInt()
  @Min(0)
  inFlight!: number;
}

/** The same totals for one event type (`task.assigned`, ...). */
export class TypeCounters {
  @IsString()
  @IsNotEmpty()
  type!: string;

  @IsInt()
  @Min(0)
  handled!: number;

  @IsInt()
  @Min(0)
  failed!: number;

  @IsInt()
  @Min(0)
  deadLettered!: number;
}

/**
 * An agent says it is alive (topic `mesh.agents`, key = agentId), every MESH_HEARTBEAT_MS.
 * An agent whose last heartbeat is older than a few periods is gone. Readers read it from the
 * latest message (no durable subscription), so nothing holds a backlog of heartbeats.
 */
export class AgentHeartbeat {
  /** `<role>@<instance>`: one per process and role (a `mesh` process runs every role). */
  @IsString()
  @IsNotEmpty()
  agentId!: string;

  @IsString()
  @IsNotEmpty()
  role!: string;

  @IsString()
  @IsNotEmpty()
  region!: string;

  @IsInt()
  @Min(0)
  pid!: number;

  @IsISO8601()
  startedAt!: string;

  /** When this heartbeat was taken. */
  @IsISO8601()
  at!: string;

  @ValidateNested()
  @Type(() => MessageCounters)
  counters!: MessageCounters;

  /** The same counters per event type received. */
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => TypeCounters)
  byType?: TypeCounters[];

  /** The skills a worker serves (`tasks.<skill>`). */
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  skills?: string[];
}

/** One subscription's figures, as the broker reports them. */
export class SubscriptionStats {
  /** Short topic name (`tasks.keywords`). */
  @IsString()
  @IsNotEmpty()
  topic!: string;

  @IsString()
  @IsNotEmpty()
  subscription!: string;

  /** Messages not yet acknowledged by the subscription. */
  @IsInt()
  @Min(0)
  backlog!: number;

  /** Messages per second delivered to its consumers (0 on the memory bus). */
  @IsNumber()
  @Min(0)
  msgRateOut!: number;

  /** Consumers connected now. */
  @IsOptional()
  @IsInt()
  @Min(0)
  consumers?: number;
}

/**
 * The broker's backlog figures (topic `mesh.stats`), every MESH_STATS_MS, published by one role
 * (the orchestrator). Read like heartbeats: from the latest message, no durable subscription.
 */
export class BrokerStats {
  @IsISO8601()
  at!: string;

  /** Where the figures come from: `pulsar` (admin API) or `memory` (the in-process broker). */
  @IsIn(['pulsar', 'memory'])
  broker!: string;

  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => SubscriptionStats)
  subscriptions!: SubscriptionStats[];

  /** Messages waiting on the dead-letter topic (`mesh.dlq`, its `mesh-dlq` subscription's backlog). */
  @IsInt()
  @Min(0)
  deadLetters!: number;
}

export const AgentHeartbeatV1 = defineEvent('agent.heartbeat', 1, 'event', AgentHeartbeat);
export const BrokerStatsV1 = defineEvent('broker.stats', 1, 'event', BrokerStats);
