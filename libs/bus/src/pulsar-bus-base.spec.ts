import type { Consumer, OutgoingMessage, Reader } from './event-bus';
import { PulsarEventBusBase, type PulsarBusOptions, type PulsarProducerLink } from './pulsar-bus-base';

/**
 * The idle-producer sweep of the base both Pulsar drivers share. The driver here is a stand-in
 * (its producers keep what they were sent, and a send settles when the test says so); the sweep
 * is called with an explicit `now`, so nothing depends on timing. The real-broker side is in
 * pulsar-ws/pulsar-ws-idle.pulsar.spec.ts.
 */
class RecordingProducer implements PulsarProducerLink {
  readonly sent: string[] = [];
  /** Settles the sends made so far. */
  private readonly unsettled: Array<() => void> = [];
  closed = false;
  confirmAtOnce = true;

  constructor(readonly topic: string) {}

  send(message: OutgoingMessage): Promise<string> {
    if (this.closed) return Promise.reject(new Error(`send on a closed producer of ${this.topic}`));
    this.sent.push(String(message.payload));
    const id = `${this.topic}:${this.sent.length}`;
    if (this.confirmAtOnce) return Promise.resolve(id);
    return new Promise((resolve) => this.unsettled.push(() => resolve(id)));
  }

  settleAll(): void {
    for (const settle of this.unsettled.splice(0)) settle();
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

class RecordingBus extends PulsarEventBusBase<RecordingProducer> {
  readonly driver = 'recording';
  readonly opened: RecordingProducer[] = [];
  /** When set, openProducer waits for it. */
  gate?: Promise<void>;

  constructor(options: PulsarBusOptions) {
    super(options);
  }

  protected checkTopic(topic: string): void {
    if (!topic.startsWith('t/')) throw new Error(`bad topic ${topic}`);
  }

  protected async openProducer(topic: string): Promise<RecordingProducer> {
    await this.gate;
    const producer = new RecordingProducer(topic);
    this.opened.push(producer);
    return producer;
  }

  protected newConsumer(): Consumer & { open(): Promise<void>; close(): Promise<void> } {
    throw new Error('not used here');
  }

  protected newReader(): Reader & { open(): Promise<void>; close(): Promise<void> } {
    throw new Error('not used here');
  }

  producersOf(topic: string): RecordingProducer[] {
    return this.opened.filter((p) => p.topic === topic);
  }
}

const IDLE = 1000;
const later = (): number => performance.now() + IDLE;

describe('PulsarEventBusBase idle producers', () => {
  let bus: RecordingBus;

  beforeEach(() => {
    bus = new RecordingBus({ producerIdleMs: IDLE });
  });

  afterEach(() => bus.close());

  it('closes the producers unused for producerIdleMs, and a later publish opens a new one', async () => {
    await Promise.all(['t/a', 't/b', 't/c'].map((topic) => bus.publish(topic, { payload: 'first' })));
    bus.sweepIdleProducers(performance.now()); // just used: kept
    expect(bus.opened.map((p) => p.closed)).toEqual([false, false, false]);

    bus.sweepIdleProducers(later());
    expect(bus.opened.map((p) => p.closed)).toEqual([true, true, true]);

    await expect(bus.publish('t/b', { payload: 'again' })).resolves.toBe('t/b:1');
    const [first, second] = bus.producersOf('t/b');
    expect(first.sent).toEqual(['first']);
    expect(second.sent).toEqual(['again']);
    expect(second.closed).toBe(false);
  });

  it('keeps a producer whose send is in flight, however long unused, and closes it once it settled', async () => {
    await bus.publish('t/a', { payload: 'opens it' });
    const [producer] = bus.opened;
    producer.confirmAtOnce = false;
    const inFlight = bus.publish('t/a', { payload: 'unconfirmed' });

    bus.sweepIdleProducers(later() + 60_000);
    expect(producer.closed).toBe(false);

    producer.settleAll();
    await expect(inFlight).resolves.toBe('t/a:2');
    bus.sweepIdleProducers(later());
    expect(producer.closed).toBe(true);
  });

  it('keeps a producer that is still opening, with the publishes waiting for it', async () => {
    let open!: () => void;
    bus.gate = new Promise((resolve) => (open = resolve));
    const waiting = bus.publish('t/a', { payload: 'waits' });
    bus.sweepIdleProducers(later() + 60_000);
    open();
    await expect(waiting).resolves.toBe('t/a:1');
    expect(bus.opened.map((p) => p.closed)).toEqual([false]);
  });

  it('sends a publish made right after the sweep started a close on a new producer', async () => {
    await bus.publish('t/a', { payload: 'one' });
    bus.sweepIdleProducers(later());
    // The old producer's close has not finished (it is awaited by close() only).
    await expect(bus.publish('t/a', { payload: 'two' })).resolves.toBe('t/a:1');
    expect(bus.producersOf('t/a').map((p) => p.sent)).toEqual([['one'], ['two']]);
  });

  it('never closes a producer with producerIdleMs 0', async () => {
    const keeping = new RecordingBus({ producerIdleMs: 0 });
    await keeping.publish('t/a', { payload: 'x' });
    keeping.sweepIdleProducers(performance.now() + 3_600_000);
    expect(keeping.opened[0].closed).toBe(false);
    await keeping.close();
    expect(keeping.opened[0].closed).toBe(true);
  });

  it('refuses a producerIdleMs that is negative or not an integer, naming it', () => {
    expect(() => new RecordingBus({ producerIdleMs: -1 })).toThrow(/producerIdleMs/);
    expect(() => new RecordingBus({ producerIdleMs: 1.5 })).toThrow(/producerIdleMs/);
  });

  it('still rejects a publish to a topic the driver cannot address, opening nothing', async () => {
    await expect(bus.publish('bad', { payload: 'x' })).rejects.toThrow('bad topic bad');
    expect(bus.opened).toEqual([]);
  });
});
