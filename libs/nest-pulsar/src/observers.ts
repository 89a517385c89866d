import { Injectable, Logger } from '@nestjs/common';
import { describeError } from '@agent-mesh/contracts';

/** How the transport settled a message it received. */
export type MessageOutcome = 'acked' | 'nacked' | 'dead_lettered' | 'retried';

/** One received message, settled. */
export interface SettledMessage {
  /** Short or qualified topic the subscription reads (as subscribed). */
  readonly topic: string;
  readonly subscription: string;
  /** The event type; `undecodable` when the message could not be decoded. */
  readonly type: string;
  readonly outcome: MessageOutcome;
  /** How long the handler ran, in seconds; undefined when no handler ran (undecodable, or no handler for the type). */
  readonly handlerSeconds?: number;
}

/** One publish through MeshPublisher. */
export interface PublishedEvent {
  readonly topic: string;
  readonly type: string;
  readonly seconds: number;
  readonly ok: boolean;
}

/** What metrics and heartbeats learn from the transport; every method optional. */
export interface MeshObserver {
  messageSettled?(message: SettledMessage): void;
  published?(event: PublishedEvent): void;
}

/**
 * The observers of one app's transport (metrics, heartbeats): the server and MeshPublisher tell
 * them what they did. An observer that throws is logged, never allowed to disturb a message.
 */
@Injectable()
export class MeshObservers {
  private readonly log = new Logger('MeshObservers');
  private readonly observers = new Set<MeshObserver>();

  /** Adds an observer; returns what removes it. */
  add(observer: MeshObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  messageSettled(message: SettledMessage): void {
    for (const o of this.observers) this.safely(() => o.messageSettled?.(message));
  }

  published(event: PublishedEvent): void {
    for (const o of this.observers) this.safely(() => o.published?.(event));
  }

  private safely(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.log.warn(`an observer failed: ${describeError(error)}`);
    }
  }
}

/** Seconds since `start` (a `performance.now()` value). */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}
