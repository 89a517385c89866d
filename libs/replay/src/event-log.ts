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
  /** The event that caused this one (the envelope's causationId), when it names one. */
  readonly causationId?: string;
  /**
   * When subscribers got it: the publish time, or, for a delayed message (a timer), the time it
   * was due (`mesh.deliver-at`) — a timer acts when it fires, not when it was set.
   */
  readonly dueAt: number;
}

type Header = Pick<LoggedMessage, 'correlationId' | 'eventId' | 'type' | 'causationId'>;

/**
 * The envelope's header as the message properties mirror it, or (a message published without
 * them) as its JSON says; the cause only the JSON has.
 */
function headerOf(message: BusMessage): Header {
  const props = message.properties;
  const envelope = parseObject(message.payload);
  const causationId = stringOr(envelope.causationId);
  const correlationId = props[EnvelopeProperties.correlationId];
  if (correlationId) {
    return {
      correlationId,
      eventId: props[EnvelopeProperties.eventId],
      type: props[EnvelopeProperties.eventType],
      causationId,
    };
  }
  return {
    correlationId: stringOr(envelope.correlationId),
    eventId: stringOr(envelope.id),
    type: stringOr(envelope.type),
    causationId,
  };
}

function parseObject(payload: Buffer): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(payload.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
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
 * messages are taken in the order they fall due. An event never comes before the event that
 * caused it (causesFirst).
 */
export function mergeInLogOrder(topics: readonly (readonly LoggedMessage[])[]): LoggedMessage[] {
  return causesFirst(mergeByTime(topics));
}

function mergeByTime(topics: readonly (readonly LoggedMessage[])[]): LoggedMessage[] {
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

/**
 * Moves each event met before its cause (one in `ordered`) to just after it, keeping the order
 * otherwise. The broker's times can put an effect first: the process that accepts a workflow
 * starts it while its `workflow.submitted` is being published, so on a loaded broker the start's
 * events (a blackboard's seed entries, say) can be stamped earlier. Live, their handlers read the
 * state that process wrote; a rebuild has only the log, and must give them the workflow first.
 */
function causesFirst(ordered: readonly LoggedMessage[]): LoggedMessage[] {
  const inLog = new Set(ordered.map((m) => m.eventId));
  const placed = new Set<string | undefined>();
  const waiting = new Map<string, LoggedMessage[]>();
  const result: LoggedMessage[] = [];
  const place = (logged: LoggedMessage): void => {
    result.push(logged);
    placed.add(logged.eventId);
    const effects = logged.eventId === undefined ? undefined : waiting.get(logged.eventId);
    if (!effects) return;
    waiting.delete(logged.eventId as string);
    effects.forEach(place);
  };
  for (const logged of ordered) {
    const cause = logged.causationId;
    if (cause === undefined || cause === logged.eventId || !inLog.has(cause) || placed.has(cause)) place(logged);
    else waiting.set(cause, [...(waiting.get(cause) ?? []), logged]);
  }
  return result;
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
