import type { BusConnectionStatus, ConnectionStatusListener } from './event-bus';

/** Stands for "the last attempt to open a producer, consumer or reader could not reach the broker". */
const LAST_OPEN = Symbol('last open');

/**
 * A client's connection status, the same way for every driver: 'connected' while nothing is
 * known to be down; 'disconnected' once the client is closed, while any of its links (a
 * producer's, consumer's or reader's connection) is down, or when the last attempt to open one
 * failed to reach the broker (until the next one succeeds). Listeners hear every change.
 */
export class ConnectionStatusTracker {
  private readonly downLinks = new Set<object | symbol>();
  private readonly listeners = new Set<ConnectionStatusListener>();
  private closed = false;
  private reported: BusConnectionStatus = 'connected';

  get status(): BusConnectionStatus {
    return this.closed || this.downLinks.size > 0 ? 'disconnected' : 'connected';
  }

  /** A link lost its connection (it reconnects meanwhile). */
  linkDown(link: object): void {
    this.downLinks.add(link);
    this.report();
  }

  /** A link is connected again (or was opened): it also proves the broker reachable. */
  linkUp(link: object): void {
    this.downLinks.delete(link);
    this.downLinks.delete(LAST_OPEN);
    this.report();
  }

  /** A link went away for good (closed): it no longer counts either way. */
  linkClosed(link: object): void {
    this.downLinks.delete(link);
    this.report();
  }

  /** Opening a link failed for want of the broker (not for a refusal the broker itself gave). */
  openFailed(): void {
    this.downLinks.add(LAST_OPEN);
    this.report();
  }

  markClosed(): void {
    this.closed = true;
    this.downLinks.clear();
    this.report();
  }

  onChange(listener: ConnectionStatusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private report(): void {
    const status = this.status;
    if (status === this.reported) return;
    this.reported = status;
    for (const listener of [...this.listeners]) listener(status);
  }
}
