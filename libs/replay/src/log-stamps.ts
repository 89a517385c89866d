import { Topics } from '@agent-mesh/contracts';
import type { EventStamp, EventStamps } from '@agent-mesh/nest-pulsar';
import type { LoggedMessage } from './event-log';

/** An event a rebuilt handler made that the log does not have. */
export interface UnmatchedOutput {
  readonly topic: string;
  readonly type: string;
  /** The event it was handling. */
  readonly causationId?: string;
}

/** What a logged event says of itself: enough to stamp the same event made again. */
interface LoggedEvent {
  readonly topic: string;
  readonly type: string;
  readonly stamp: EventStamp;
}

function parse(logged: LoggedMessage): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(logged.message.payload.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The log's ids, times and sources for the events a rebuilt handler makes: the events the one it
 * handles caused (causation id), of the same topic and type, taken in log order, each once. A
 * handler making an event the log does not have (it made it differently live) gets a new one.
 */
export class LogStamps implements EventStamps {
  private readonly byCause = new Map<string, LoggedEvent[]>();
  /** Events a rebuilt handler made that the log does not have: it decided otherwise than live. */
  readonly unmatched: UnmatchedOutput[] = [];

  /** Adds logged events (each read once: a topic is added once). */
  add(messages: readonly LoggedMessage[]): void {
    for (const logged of messages) {
      const event = parse(logged);
      const { causationId, id, type, occurredAt, source } = event ?? {};
      if (typeof causationId !== 'string' || typeof id !== 'string' || typeof type !== 'string') continue;
      if (typeof occurredAt !== 'string' || typeof source !== 'string') continue;
      const caused = this.byCause.get(causationId) ?? [];
      caused.push({ topic: logged.message.topic, type, stamp: { id, occurredAt: new Date(occurredAt), source } });
      this.byCause.set(causationId, caused);
    }
  }

  stampFor(topic: string, type: string, causationId: string | undefined): EventStamp | undefined {
    const caused = causationId === undefined ? undefined : this.byCause.get(causationId);
    const at = caused?.findIndex((event) => event.topic === topic && event.type === type) ?? -1;
    if (!caused || at < 0) {
      this.unmatched.push({ topic, type, causationId });
      return undefined;
    }
    return caused.splice(at, 1)[0].stamp;
  }
}

/** The task topics (`tasks.<skill>`) of the skills the workflows' specs and requests name, qualified as `sibling` is. */
export function taskTopicsOf(messages: readonly LoggedMessage[], sibling: string): string[] {
  const base = sibling.slice(0, sibling.lastIndexOf('/') + 1);
  const skills = new Set<string>();
  const collect = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(collect);
    else if (typeof value === 'object' && value !== null) {
      for (const [key, inner] of Object.entries(value)) {
        if (key === 'skill' && typeof inner === 'string') skills.add(inner);
        else collect(inner);
      }
    }
  };
  for (const logged of messages)
    if (logged.type === 'workflow.submitted' || logged.type === 'workflow.requested') collect(parse(logged)?.['data']);
  return [...skills].map((skill) => `${base}${Topics.tasks(skill)}`);
}
