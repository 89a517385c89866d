import {
  applyDecorators,
  Catch,
  UseFilters,
  type ArgumentsHost,
  type RpcExceptionFilter,
  type Type,
} from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import type { InitialPosition, SubscriptionType } from '@agent-mesh/bus';
import type { EventDefinition, RetryPolicy } from '@agent-mesh/contracts';
import { throwError, type Observable } from 'rxjs';
import { MESH_HANDLER_METHOD, type MeshHandlerMethod } from './direct-handler';

/**
 * How a handler's failures are retried: a retry policy (each field defaults to
 * DEFAULT_RETRY_POLICY's) and which errors are retryable (default: all but those marked
 * `retryable: false`, e.g. NonRetryableError, SkillInputError). `attempts: 1` turns retries off.
 */
export type MeshRetryOptions = Partial<RetryPolicy> & {
  readonly retryable?: (error: unknown) => boolean;
};

/** How a handler's subscription is declared. Topic names are short names from libs/contracts. */
export interface MeshSubscriptionOptions {
  /**
   * Short topic name, e.g. `task.results`. `{variable}` placeholders expand to one
   * subscription per value of the server's `topicVariables` (e.g. `tasks.{capability}`).
   */
  readonly topic: string;
  readonly subscription: string;
  /** Default Shared. Key_Shared, Exclusive and Failover handlers run one message per key at a time. */
  readonly type?: SubscriptionType;
  /**
   * How a throwing handler is retried: after `backoffDelayMs(policy, attempt)` through the
   * subscription's retry topic (`<topic>-<subscription>-RETRY`, delayed delivery), then the
   * dead-letter topic once the attempts are spent; a non-retryable error goes there at once.
   */
  readonly retry?: MeshRetryOptions;
  /**
   * Redeliveries (after a nack, an ack timeout or a crash) after the first delivery before the
   * message goes to the dead-letter topic. Default 5. A handler's own errors follow `retry`.
   */
  readonly maxRedeliverCount?: number;
  /** Default: the mesh dead-letter topic (`mesh.dlq`). */
  readonly deadLetterTopic?: string;
  /** Redeliver if a handler neither finishes nor fails within this time. Default off. */
  readonly ackTimeoutMs?: number;
  /** Delay before a failed message is redelivered. Default 1000 ms. */
  readonly nackRedeliveryDelayMs?: number;
  /** Default 'earliest': a new subscription must not miss events published before it existed. */
  readonly initialPosition?: InitialPosition;
  /** Most messages handled at once by this consumer. Default 16. */
  readonly concurrency?: number;
  /**
   * In a geo set, only events produced in this process's region reach the handler; the rest are
   * acked and skipped (docs/geo.md). For events about a region's live agents, such as a worker's
   * bid: a copy replicated from another region, a lost one's included, names an agent that is not
   * here. Default false: a workflow's events are taken by their home (homing), wherever produced.
   */
  readonly ownRegionOnly?: boolean;
}

/** What the server reads off each handler (Nest keeps it as the handler's `extras`). */
export interface MeshHandlerExtras extends MeshSubscriptionOptions {
  readonly eventType: string;
  readonly eventVersion?: number;
  /** The decorated method, for calling it without Nest's pipeline when nothing runs around it. */
  readonly [MESH_HANDLER_METHOD]?: MeshHandlerMethod;
}

/**
 * Keeps the handler's own error (Nest's default filter would replace it with "Internal
 * server error"), so a nack and a dead letter carry the real reason.
 */
@Catch()
export class KeepOriginalErrorFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => exception);
  }
}

/**
 * Handles one event type from one subscription. Resolving acks the message; throwing retries it
 * with backoff (see `retry`), then dead-letters it with the error as reason.
 */
export function OnMeshEvent(event: string | EventDefinition, options: MeshSubscriptionOptions): MethodDecorator {
  const eventType = typeof event === 'string' ? event : event.type;
  const eventVersion = typeof event === 'string' ? undefined : event.version;
  return (target, method, descriptor) => {
    const extras: MeshHandlerExtras = {
      ...options,
      eventType,
      eventVersion,
      [MESH_HANDLER_METHOD]: { controller: target.constructor as Type<unknown>, method },
    };
    applyDecorators(
      EventPattern(
        { event: eventType, version: eventVersion ?? '*', topic: options.topic, subscription: options.subscription },
        extras as unknown as Record<string, unknown>,
      ),
      UseFilters(KeepOriginalErrorFilter),
    )(target, method, descriptor);
  };
}
