import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Observable } from 'rxjs';
import { BusClosedError, type BusMessage, type Reader } from '@agent-mesh/bus';
import {
  AgentHeartbeatV1,
  BrokerStatsV1,
  describeError,
  EnvelopeProperties,
  qualifyTopic,
  Topics,
  type AgentHeartbeat,
  type BrokerStats,
  type EventRegistry,
} from '@agent-mesh/contracts';
import { MESH_TRANSPORT_OPTIONS, type MeshTransportOptions } from '@agent-mesh/nest-pulsar';

/** A workflow changed: the console reads it again over the API (`GET /workflows/:id`). */
export interface WorkflowChange {
  readonly workflowId: string;
  /** The event type, e.g. `step.started`, `workflow.completed`. */
  readonly type: string;
  readonly source?: string;
  readonly at: string;
}

/** What the console's event stream (`GET /console/events`) carries. */
export type ConsoleEvent =
  /** The feed reads its topics: what the page reads over the API from now on is not missed. */
  | { readonly kind: 'ready'; readonly at: string }
  | ({ readonly kind: 'workflow' } & WorkflowChange)
  /** An agent's heartbeat (`mesh.agents`): its throughput and errors. */
  | { readonly kind: 'agent'; readonly heartbeat: AgentHeartbeat }
  /** The broker's figures (`mesh.stats`): subscription backlogs and dead letters. */
  | { readonly kind: 'stats'; readonly stats: BrokerStats };

/** How long one read waits for a message (the loop reads again; close() ends a wait at once). */
const READ_WAIT_MS = 30_000;
/** Pause after a failed read before the next one (the driver reconnects meanwhile). */
const RETRY_PAUSE_MS = 1_000;

/** One topic the feed follows, and what its messages become on the stream (nothing: passed over). */
interface FollowedTopic {
  readonly topic: string;
  toEvent(message: BusMessage): ConsoleEvent | undefined;
}

/** The readers open while someone watches, and the latest of each agent's heartbeat and of the stats. */
interface Session {
  readonly opened: Promise<Reader[]>;
  stopped: boolean;
  readonly agents: Map<string, ConsoleEvent>;
  stats?: ConsoleEvent;
}

/** A workflow event, from the properties mirrored on its message: no payload is decoded. */
function workflowChange(message: BusMessage): ConsoleEvent | undefined {
  const workflowId = message.properties[EnvelopeProperties.correlationId];
  const type = message.properties[EnvelopeProperties.eventType];
  if (!workflowId || !type) return undefined;
  const at = new Date(message.eventTime ?? message.publishTime).toISOString();
  return { kind: 'workflow', workflowId, type, source: message.properties[EnvelopeProperties.source], at };
}

/** A heartbeat or stats message, decoded and validated (a bad one is passed over: not ours to dead-letter). */
function decoded(registry: EventRegistry, message: BusMessage, type: string): object | undefined {
  if (message.properties[EnvelopeProperties.eventType] !== type) return undefined;
  const result = registry.decode(message.payload);
  return result.ok && result.envelope.type === type ? result.envelope.data : undefined;
}

/**
 * The live feed of the operator's console: workflow events (`workflow.events`) as they happen,
 * agents' heartbeats (`mesh.agents`) and the broker's figures (`mesh.stats`).
 * Like the worker's WorkflowEndWatcher it reads with non-durable Readers from `latest` — nothing
 * stays on the broker — and only while at least one console is connected: the first watcher opens
 * the readers, the last one to leave closes them.
 */
@Injectable()
export class ConsoleFeed implements OnApplicationShutdown {
  private readonly log = new Logger('Console');
  private readonly watchers = new Set<(event: ConsoleEvent) => void>();
  private session?: Session;

  constructor(@Inject(MESH_TRANSPORT_OPTIONS) private readonly transport: MeshTransportOptions) {}

  /** Every event from now on, starting with `ready` once the topics are read. */
  events(): Observable<ConsoleEvent> {
    return new Observable<ConsoleEvent>((subscriber) => {
      const watcher = (event: ConsoleEvent) => subscriber.next(event);
      this.watchers.add(watcher);
      this.session ??= this.open();
      const session = this.session;
      session.opened.then(
        () => {
          subscriber.next({ kind: 'ready', at: new Date().toISOString() });
          // What the session has seen so far: a console opened later need not wait for the next heartbeat.
          for (const event of [...session.agents.values(), ...(session.stats ? [session.stats] : [])])
            subscriber.next(event);
        },
        (error: unknown) => subscriber.error(error),
      );
      return () => {
        this.watchers.delete(watcher);
        if (this.watchers.size === 0) this.close();
      };
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.watchers.clear();
    await this.close();
  }

  /** The topics followed. */
  private topics(): FollowedTopic[] {
    const { naming, registry } = this.transport;
    return [
      { topic: qualifyTopic(naming, Topics.workflowEvents), toEvent: workflowChange },
      {
        topic: qualifyTopic(naming, Topics.agents),
        toEvent: (message) => {
          const heartbeat = decoded(registry, message, AgentHeartbeatV1.type) as AgentHeartbeat | undefined;
          return heartbeat && { kind: 'agent', heartbeat };
        },
      },
      {
        topic: qualifyTopic(naming, Topics.stats),
        toEvent: (message) => {
          const stats = decoded(registry, message, BrokerStatsV1.type) as BrokerStats | undefined;
          return stats && { kind: 'stats', stats };
        },
      },
    ];
  }

  /** Keeps the latest heartbeat of each agent and the latest stats, for consoles that join later. */
  private remember(session: Session, event: ConsoleEvent): void {
    if (event.kind === 'agent') session.agents.set(event.heartbeat.agentId, event);
    if (event.kind === 'stats') session.stats = event;
  }

  private open(): Session {
    const followed = this.topics();
    const session: Session = {
      stopped: false,
      agents: new Map(),
      opened: Promise.all(
        followed.map(({ topic }) => this.transport.bus.createReader({ topic, startMessageId: 'latest' })),
      ),
    };
    session.opened.then(
      (readers) => readers.forEach((reader, i) => void this.follow(session, reader, followed[i])),
      (error: unknown) => {
        this.log.warn(`cannot read the console's topics: ${describeError(error)}`);
        if (this.session === session) this.session = undefined;
      },
    );
    return session;
  }

  private async close(): Promise<void> {
    const session = this.session;
    if (!session) return;
    this.session = undefined;
    session.stopped = true;
    const readers = await session.opened.catch(() => [] as Reader[]);
    await Promise.all(readers.map((reader) => reader.close().catch(() => undefined)));
  }

  private async follow(session: Session, reader: Reader, followed: FollowedTopic): Promise<void> {
    while (!session.stopped) {
      try {
        const message = await reader.readNext(READ_WAIT_MS);
        const event = message && !session.stopped ? followed.toEvent(message) : undefined;
        if (!event) continue;
        this.remember(session, event);
        for (const watcher of this.watchers) watcher(event);
      } catch (error) {
        if (session.stopped || error instanceof BusClosedError) return;
        this.log.warn(`reading ${reader.topic} for the console: ${describeError(error)}`);
        await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
      }
    }
  }
}
