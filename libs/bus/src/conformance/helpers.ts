import type { BusMessage, Consumer, EventBus, MessageListener, Reader } from '../event-bus';

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `predicate` until it holds, or rejects after `timeoutMs` with `what` (a description of
 * the expected state, or a function returning one, evaluated at timeout so it can show the
 * actual state too).
 */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string | (() => string) = 'condition',
  intervalMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() >= deadline) {
      const description = typeof what === 'function' ? what() : what;
      throw new Error(`waitFor timed out after ${timeoutMs} ms: ${description}`);
    }
    await sleep(intervalMs);
  }
}

/** One call of a listener. */
export interface Delivery {
  /** Which listener (consumer) got it. */
  readonly label: string;
  readonly message: BusMessage;
  readonly consumer: Consumer;
  /** Date.now() when the listener was called. */
  readonly receivedAt: number;
}

/**
 * What a recording listener does with a message: ack it, hold it (neither ack nor nack: it
 * stays in flight), or run a handler. The listener never returns the handler's promise, so a
 * driver that awaits listeners is not slowed; handler errors are collected in `errors`.
 */
export type Handling = 'ack' | 'hold' | ((delivery: Delivery) => void | Promise<void>);

/** Records every delivery of the listeners it creates, in arrival order. */
export class Inbox {
  readonly deliveries: Delivery[] = [];
  readonly errors: unknown[] = [];
  private readonly pending: Promise<unknown>[] = [];

  listener(label: string, handling: Handling = 'ack'): MessageListener {
    return (message, consumer) => {
      const delivery: Delivery = { label, message, consumer, receivedAt: Date.now() };
      this.deliveries.push(delivery);
      if (handling === 'hold') return;
      try {
        const result = handling === 'ack' ? consumer.ack(message) : handling(delivery);
        if (result) this.pending.push(result.catch((error: unknown) => this.errors.push(error)));
      } catch (error: unknown) {
        this.errors.push(error);
      }
    };
  }

  /** Waits for every ack/nack/handler started so far to settle. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.pending);
  }

  of(label?: string): Delivery[] {
    return label === undefined ? [...this.deliveries] : this.deliveries.filter((d) => d.label === label);
  }

  count(label?: string): number {
    return this.of(label).length;
  }

  /** Payloads as UTF-8 text, in arrival order. */
  texts(label?: string): string[] {
    return this.of(label).map((d) => text(d.message));
  }

  /** The first delivery whose payload is `payload`; throws if there is none. */
  find(payload: string): Delivery {
    const found = this.deliveries.find((d) => text(d.message) === payload);
    if (!found) throw new Error(`no delivery of "${payload}"; ${this.describe()}`);
    return found;
  }

  labels(): string[] {
    return [...new Set(this.deliveries.map((d) => d.label))];
  }

  /** A description of what arrived, for timeout messages. */
  describe(label?: string): string {
    const items = this.of(label).map((d) => `${d.label}:${text(d.message)}#${d.message.redeliveryCount}`);
    return `got ${items.length} deliveries [${items.join(', ')}]`;
  }
}

export function text(message: BusMessage): string {
  return message.payload.toString('utf8');
}

/** Publishes the payloads one after the other (so publish order is defined); returns their ids. */
export async function publishTexts(
  bus: EventBus,
  topic: string,
  payloads: readonly string[],
  key?: (payload: string, index: number) => string | undefined,
): Promise<string[]> {
  const ids: string[] = [];
  for (const [index, payload] of payloads.entries()) {
    ids.push(await bus.publish(topic, { payload, key: key?.(payload, index) }));
  }
  return ids;
}

/** The reader's next message; throws (instead of returning null) if none comes within timeoutMs. */
export async function readOrFail(reader: Reader, timeoutMs: number): Promise<BusMessage> {
  const message = await reader.readNext(timeoutMs);
  if (message === null) throw new Error(`reader on ${reader.topic}: no message within ${timeoutMs} ms`);
  return message;
}
