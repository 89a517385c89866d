import type { BusMessage, EventBus, OutgoingMessage } from '@agent-mesh/bus';
import { EnvelopeProperties } from '@agent-mesh/contracts';

/** How long a reader waits for a message it was told is available. */
const READ_TIMEOUT_MS = 5_000;

/** One message of the log, with what the rebuild orders and filters it by. */
export interface LoggedMessage {
  readonly message: BusMessage;
  /** The workflow (the envelope's correlation id); undefined for what is no mesh event (it was dead-lettered live). */
  readonly correlationId?: string;
  readonly eventId?: string;
  readonly type?: string;
  /**
   * When subscribers got it: the publish time, or, for a delayed message (a timer), the time it
   * was due (`mesh.deliver-at`) — a timer acts when it fires, not when it was set.
   */
  readonly dueAt: number;
}

/** The envelope's header as the message properties mirror it, or (a message published without them) as its JSON says. */
function headerOf(message: BusMessage): { correlationId?: string; eventId?: string; type?: string } {
  const props = message.properties;
  const correlationId = props[EnvelopeProperties.correlationId];
  if (correlationId) {
    return { correlationId, eventId: props[EnvelopeProperties.eventId], type: props[EnvelopeProperties.eventType] };
  }
  try {
    const parsed: unknown = JSON.parse(message.payload.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null) return {};
    const { correlationId: c, id, type } = parsed as Record<string, unknown>;
    return {
      correlationId: typeof c === 'string' ? c : undefined,
      eventId: typeof id === 'string' ? id : undefined,
      type: typeof type === 'string' ? type : undefined,
    };
  } catch {
    return {};
  }
}

/** The home of a logged event (`mesh.home`; its region when it was published outside a geo set). */
export function homeOfMessage(properties: Readonly<Record<string, string>>): string | undefined {
  return properties[EnvelopeProperties.home] ?? properties[EnvelopeProperties.region];
}

export function toLogged(message: BusMessage): LoggedMessage {
  const due = Number(message.properties[EnvelopeProperties.deliverAt]);
  return {
    message,
    ...headerOf(message),
    dueAt: Number.isFinite(due) && due > message.publishTime ? due : message.publishTime,
  };
}

/**
 * Every message of a topic from the earliest (the namespace keeps everything: retention -1)
 * that `keep` accepts, in log order. A reader is non-durable: it leaves no subscription behind.
 */
export async function readTopic(
  bus: EventBus,
  topic: string,
  keep: (logged: LoggedMessage) => boolean = () => true,
): Promise<LoggedMessage[]> {
  const reader = await bus.createReader({ topic, startMessageId: 'earliest' });
  const kept: LoggedMessage[] = [];
  try {
    while (await reader.hasMessageAvailable()) {
      const message = await reader.readNext(READ_TIMEOUT_MS);
      if (!message) break;
      const logged = toLogged(message);
      if (keep(logged)) kept.push(logged);
    }
  } finally {
    await reader.close();
  }
  return kept;
}

/**
 * Merges several topics' messages into one sequence in the order the mesh saw them: by the
 * time each reached its subscribers (`dueAt`), ties broken by event id (UUID v7: time-ordered).
 * Each topic's own order is kept for messages due at the same time, and a topic's delayed
 * messages are taken in the order they fall due.
 */
export function mergeInLogOrder(topics: readonly (readonly LoggedMessage[])[]): LoggedMessage[] {
  const queues = topics.map((messages) =>
    messages
      .map((logged, seq) => ({ logged, seq }))
      .sort((a, b) => a.logged.dueAt - b.logged.dueAt || a.seq - b.seq)
      .map(({ logged }) => logged),
  );
  const heads = queues.map(() => 0);
  const merged: LoggedMessage[] = [];
  for (;;) {
    let best = -1;
    for (let q = 0; q < queues.length; q++) {
      const candidate = queues[q][heads[q]];
      if (!candidate) continue;
      if (best < 0 || before(candidate, queues[best][heads[best]])) best = q;
    }
    if (best < 0) return merged;
    merged.push(queues[best][heads[best]++]);
  }
}

function before(a: LoggedMessage, b: LoggedMessage): boolean {
  if (a.dueAt !== b.dueAt) return a.dueAt < b.dueAt;
  return (a.eventId ?? '') < (b.eventId ?? '');
}

/** A logged message as it was published (payload, key, properties, event time). */
export function asPublished(logged: LoggedMessage): OutgoingMessage {
  const { payload, key, properties, eventTime } = logged.message;
  return { payload, key, properties, eventTime };
}
