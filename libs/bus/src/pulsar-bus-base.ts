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
}

/**
 * The skeleton both Pulsar drivers share: the producers (one per topic, opened on first publish),
 * consumers and readers of a client, closing them all, the connection status, and the guard for
 * a close() that runs while one of them is still opening (close() cannot see it yet, so it is
 * closed as soon as it opens and its caller gets BusClosedError). A driver says how to open a
 * producer, consumer and reader and which topics it takes.
 */
export abstract class PulsarEventBusBase<Producer extends PulsarProducerLink> implements EventBus {
  abstract readonly driver: string;
  readonly sendTimeoutMs: number;
  /** @internal The driver's links report their connection here. */
  readonly connection = new ConnectionStatusTracker();
  private readonly producers = new Map<string, Promise<Producer>>();
  /** The producers of `producers` that are open, by topic: they send in the publish's own turn. */
  private readonly openProducers = new Map<string, Producer>();
  private readonly consumers = new Set<Openable>();
  private readonly readers = new Set<Openable>();
  private closed = false;

  protected constructor(options: PulsarBusOptions) {
    this.sendTimeoutMs = options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
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
    // An open producer sends in this turn: no await on its opening promise first.
    const open = this.openProducers.get(topic);
    if (open) return open.send(message);
    return this.producer(topic).then((opened) =>
      this.closed ? Promise.reject(new BusClosedError(`publish to ${topic}`)) : opened.send(message),
    );
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
    // Producers still opening are waited for and closed too.
    const producers = await Promise.allSettled([...this.producers.values()]);
    await Promise.allSettled(producers.map((p) => (p.status === 'fulfilled' ? p.value.close() : undefined)));
    this.producers.clear();
    this.openProducers.clear();
    await this.closeClient();
  }

  /** @internal A consumer or reader closed itself. */
  forget(link: Openable): void {
    this.consumers.delete(link);
    this.readers.delete(link);
    this.connection.linkClosed(link);
  }

  private producer(topic: string): Promise<Producer> {
    const existing = this.producers.get(topic);
    if (existing) return existing;
    let opening: Promise<Producer>;
    try {
      this.checkTopic(topic);
      opening = this.openProducer(topic);
    } catch (error) {
      return Promise.reject(error);
    }
    this.producers.set(topic, opening);
    opening.then(
      (opened) => {
        if (this.producers.get(topic) === opening) this.openProducers.set(topic, opened);
      },
      () => {
        if (this.producers.get(topic) === opening) this.producers.delete(topic);
      },
    );
    return opening;
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
