import {
  BusClosedError,
  type BusConnectionStatus,
  type Consumer,
  type ConnectionStatusListener,
  type EventBus,
  type MessageListener,
  type OutgoingMessage,
  type Reader,
  type ReaderOptions,
  type SubscribeOptions,
} from './event-bus';
import { ConnectionStatusTracker } from './connection-status';

/** How long a publish waits for the broker before failing, unless the driver's options say otherwise. */
export const DEFAULT_SEND_TIMEOUT_MS = 30_000;
/** How long a producer may sit unused before it is closed, unless the driver's options say otherwise. */
export const DEFAULT_PRODUCER_IDLE_MS = 60_000;

/** A driver's producer of one topic. */
export interface PulsarProducerLink {
  send(message: OutgoingMessage): Promise<string>;
  close(): Promise<void>;
}

/** A driver's consumer or reader: made, then opened once; closed by the base when the client closes. */
export interface Openable {
  open(): Promise<void>;
  close(): Promise<void>;
}

export interface PulsarBusOptions {
  /** How long a publish waits for the broker before failing. Default 30 s. */
  readonly sendTimeoutMs?: number;
  /**
   * A producer with no publish for this long (and none in flight) is closed; the next publish to
   * its topic opens a new one. Default 60 s; 0 keeps producers open for the life of the client.
   */
  readonly producerIdleMs?: number;
}

/** A topic's producer: opening or open, with what the idle sweep needs to know about it. */
interface ProducerEntry<Producer> {
  readonly opening: Promise<Producer>;
  /** Set once `opening` resolves: an open producer sends in the publish's own turn. */
  open?: Producer;
  /** Publishes made and not yet settled, counting those waiting for the producer to open. */
  inFlight: number;
  /** performance.now() of the last publish. */
  lastUsed: number;
}

/**
 * The skeleton both Pulsar drivers share: the producers (one per topic, opened on first publish),
 * consumers and readers of a client, closing them all, the connection status, and the guard for
 * a close() that runs while one of them is still opening (close() cannot see it yet, so it is
 * closed as soon as it opens and its caller gets BusClosedError). A driver says how to open a
 * producer, consumer and reader and which topics it takes.
 *
 * Producers unused for `producerIdleMs` are closed by one sweep timer per client (a worker
 * streams to a topic per workflow, so it would otherwise keep a producer per workflow it ever
 * served). The sweep takes a producer out of the map in the same turn it decides to close it, and
 * only when nothing is in flight on it: a publish then either used it and settled first, or
 * finds no producer and opens a new one.
 */
export abstract class PulsarEventBusBase<Producer extends PulsarProducerLink> implements EventBus {
  abstract readonly driver: string;
  readonly sendTimeoutMs: number;
  readonly producerIdleMs: number;
  /** @internal The driver's links report their connection here. */
  readonly connection = new ConnectionStatusTracker();
  private readonly producers = new Map<string, ProducerEntry<Producer>>();
  /** Idle producers being closed: close() waits for them. */
  private readonly closingProducers = new Set<Promise<void>>();
  /** Runs while there are producers and producerIdleMs > 0. */
  private idleSweepTimer?: NodeJS.Timeout;
  private readonly consumers = new Set<Openable>();
  private readonly readers = new Set<Openable>();
  private closed = false;

  protected constructor(options: PulsarBusOptions) {
    this.sendTimeoutMs = options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
    this.producerIdleMs = options.producerIdleMs ?? DEFAULT_PRODUCER_IDLE_MS;
    if (!Number.isInteger(this.producerIdleMs) || this.producerIdleMs < 0) {
      throw new Error(`producerIdleMs must be an integer of 0 or more, got ${this.producerIdleMs}`);
    }
  }

  /** Throws for a topic the driver cannot address. */
  protected abstract checkTopic(topic: string): void;
  protected abstract openProducer(topic: string): Promise<Producer>;
  protected abstract newConsumer(options: SubscribeOptions, listener: MessageListener): Consumer & Openable;
  protected abstract newReader(options: ReaderOptions): Reader & Openable;

  /** Releases what the driver holds besides its links (the native client). */
  protected closeClient(): Promise<void> {
    return Promise.resolve();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get connectionStatus(): BusConnectionStatus {
    return this.connection.status;
  }

  onConnectionStatus(listener: ConnectionStatusListener): () => void {
    return this.connection.onChange(listener);
  }

  publish(topic: string, message: OutgoingMessage): Promise<string> {
    if (this.closed) return Promise.reject(new BusClosedError(`publish to ${topic}`));
    let entry = this.producers.get(topic);
    if (!entry) {
      try {
        entry = this.openEntry(topic);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    entry.lastUsed = performance.now();
    entry.inFlight++;
    // An open producer sends in this turn: no await on its opening promise first.
    const sent = entry.open
      ? entry.open.send(message)
      : entry.opening.then((opened) =>
          this.closed ? Promise.reject(new BusClosedError(`publish to ${topic}`)) : opened.send(message),
        );
    const settled = (): void => {
      entry.inFlight--;
    };
    sent.then(settled, settled);
    return sent;
  }

  async subscribe(options: SubscribeOptions, listener: MessageListener): Promise<Consumer> {
    const what = `subscribe to ${options.topic}`;
    this.assertOpen(what);
    this.checkTopic(options.topic);
    const consumer = this.newConsumer(options, listener);
    await consumer.open();
    return this.keep(this.consumers, consumer, what);
  }

  async createReader(options: ReaderOptions): Promise<Reader> {
    const what = `createReader on ${options.topic}`;
    this.assertOpen(what);
    this.checkTopic(options.topic);
    const reader = this.newReader(options);
    await reader.open();
    return this.keep(this.readers, reader, what);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.connection.markClosed();
    await Promise.allSettled([...this.consumers].map((c) => c.close()));
    await Promise.allSettled([...this.readers].map((r) => r.close()));
    this.stopIdleSweep();
    // Producers still opening are waited for and closed too.
    const producers = await Promise.allSettled([...this.producers.values()].map((entry) => entry.opening));
    await Promise.allSettled(producers.map((p) => (p.status === 'fulfilled' ? p.value.close() : undefined)));
    this.producers.clear();
    await Promise.allSettled([...this.closingProducers]);
    await this.closeClient();
  }

  /** @internal A consumer or reader closed itself. */
  forget(link: Openable): void {
    this.consumers.delete(link);
    this.readers.delete(link);
    this.connection.linkClosed(link);
  }

  /**
   * @internal Closes the open producers unused for producerIdleMs with nothing in flight (the
   * timer calls it; a test may pass `now`). Each is out of the map before its close starts.
   */
  sweepIdleProducers(now = performance.now()): void {
    if (this.producerIdleMs === 0) return;
    for (const [topic, entry] of this.producers) {
      if (!entry.open || entry.inFlight > 0 || now - entry.lastUsed < this.producerIdleMs) continue;
      this.producers.delete(topic);
      const closing = entry.open.close().catch(() => undefined);
      this.closingProducers.add(closing);
      void closing.then(() => this.closingProducers.delete(closing));
    }
    if (this.producers.size === 0) this.stopIdleSweep();
  }

  /** Throws (synchronously) for a topic the driver cannot address. */
  private openEntry(topic: string): ProducerEntry<Producer> {
    this.checkTopic(topic);
    const entry: ProducerEntry<Producer> = { opening: this.openProducer(topic), inFlight: 0, lastUsed: 0 };
    this.producers.set(topic, entry);
    entry.opening.then(
      (opened) => {
        entry.open = opened;
      },
      () => {
        if (this.producers.get(topic) === entry) this.producers.delete(topic);
      },
    );
    this.startIdleSweep();
    return entry;
  }

  /** One timer per client, not per producer: a producer is closed between idle and 1.5 × idle after its last use. */
  private startIdleSweep(): void {
    if (this.producerIdleMs === 0 || this.idleSweepTimer) return;
    const periodMs = Math.max(1, Math.floor(this.producerIdleMs / 2));
    this.idleSweepTimer = setInterval(() => this.sweepIdleProducers(), periodMs).unref();
  }

  private stopIdleSweep(): void {
    clearInterval(this.idleSweepTimer);
    this.idleSweepTimer = undefined;
  }

  /** Keeps a link that finished opening, unless close() ran meanwhile: then it is closed here. */
  private async keep<Link extends Openable>(links: Set<Openable>, link: Link, what: string): Promise<Link> {
    if (this.closed) {
      await link.close();
      throw new BusClosedError(what);
    }
    links.add(link);
    return link;
  }

  private assertOpen(what: string): void {
    if (this.closed) throw new BusClosedError(what);
  }
}
