import type { BusMessage, EventBus, Reader } from '@agent-mesh/bus';
import { describeError } from '@agent-mesh/contracts';

export interface TopicFollowerOptions {
  readonly bus: EventBus;
  /** Followed from now on (readers from the latest message). */
  readonly topics: readonly string[];
  /**
   * More topics to follow, asked every `discoverEveryMs`: one not followed yet is read from its
   * earliest message, since it did not exist (or was not listed) when following began.
   */
  readonly discover?: () => Promise<readonly string[]>;
  readonly discoverEveryMs?: number;
  readonly onMessage: (message: BusMessage) => void;
  /** A reader or the discovery failed (it is tried again). */
  readonly onProblem?: (what: string) => void;
}

/**
 * Follows topics with non-durable readers (no subscription left behind on the broker): each
 * message is handed to `onMessage` as it arrives. `close()` stops every reader.
 */
export class TopicFollower {
  private readonly readers = new Map<string, Reader>();
  /** Topics whose reader is being created (a slow discovery must not make a second one). */
  private readonly opening = new Set<string>();
  private readonly loops: Promise<void>[] = [];
  private closed = false;
  private discovery?: NodeJS.Timeout;

  private constructor(private readonly options: TopicFollowerOptions) {}

  static async start(options: TopicFollowerOptions): Promise<TopicFollower> {
    const follower = new TopicFollower(options);
    await Promise.all(options.topics.map((topic) => follower.follow(topic, 'latest')));
    if (options.discover) {
      await follower.discover('latest');
      follower.discovery = setInterval(() => void follower.discover('earliest'), options.discoverEveryMs ?? 2000);
    }
    return follower;
  }

  /** The topics followed now, sorted. */
  get topics(): string[] {
    return [...this.readers.keys()].sort();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.discovery) clearInterval(this.discovery);
    await Promise.all([...this.readers.values()].map((reader) => reader.close().catch(() => undefined)));
    await Promise.all(this.loops);
  }

  private async discover(from: 'latest' | 'earliest'): Promise<void> {
    if (this.closed || !this.options.discover) return;
    let found: readonly string[];
    try {
      found = await this.options.discover();
    } catch (error) {
      this.options.onProblem?.(`cannot list topics: ${describeError(error)}`);
      return;
    }
    await Promise.all(found.filter((topic) => !this.readers.has(topic)).map((topic) => this.follow(topic, from)));
  }

  private async follow(topic: string, from: 'latest' | 'earliest'): Promise<void> {
    if (this.closed || this.readers.has(topic) || this.opening.has(topic)) return;
    this.opening.add(topic);
    let reader: Reader;
    try {
      reader = await this.options.bus.createReader({ topic, startMessageId: from });
    } catch (error) {
      this.options.onProblem?.(`cannot read ${topic}: ${describeError(error)}`);
      return;
    } finally {
      this.opening.delete(topic);
    }
    if (this.closed) {
      await reader.close();
      return;
    }
    this.readers.set(topic, reader);
    this.loops.push(this.read(reader));
  }

  private async read(reader: Reader): Promise<void> {
    while (!this.closed) {
      try {
        const message = await reader.readNext(500);
        if (message) this.options.onMessage(message);
      } catch (error) {
        if (this.closed) return;
        this.options.onProblem?.(`reading ${reader.topic}: ${describeError(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }
}
