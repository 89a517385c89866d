import { Topics } from '@agent-mesh/contracts';
import type { EventStamp, EventStamps } from '@agent-mesh/nest-pulsar';
import type { LoggedMessage } from './event-log';

/**
 * An event a rebuilt handler made otherwise than live: one the log does not have, or the log's
 * event (its id) with other data (a fill to another bidder, say).
 */
export interface UnmatchedOutput {
  readonly topic: string;
  readonly type: string;
  readonly difference: 'not-in-log' | 'other-data';
  /** The event it was handling. */
  readonly causationId?: string;
  /** That event's type and workflow, when the log has it. */
  readonly causeType?: string;
  readonly workflowId?: string;
}

/** What a logged event says of itself: enough to stamp the same event made again. */
interface LoggedEvent {
  readonly topic: string;
  readonly type: string;
  readonly stamp: EventStamp;
}

function parse(payload: Buffer | string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(payload.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The log's ids, times and sources for the events a rebuilt handler makes: the events the one it
 * handles caused (causation id), of the same topic and type, taken in log order, each once. A
 * handler making an event the log does not have (it made it differently live) gets a new one.
 * Its outputs are then checked against the log's events of the same ids (checkData).
 */
export class LogStamps implements EventStamps {
  private readonly byCause = new Map<string, LoggedEvent[]>();
  /** Each logged event's type and workflow, by id: an unmatched output names what it was handling. */
  private readonly causes = new Map<string, { readonly type?: string; readonly workflowId?: string }>();
  /** Each logged event's data as JSON, by id. */
  private readonly loggedData = new Map<string, string>();
  /** Events a rebuilt handler made that the log does not have: it decided otherwise than live. */
  readonly unmatched: UnmatchedOutput[] = [];

  /** Adds logged events (each read once: a topic is added once). */
  add(messages: readonly LoggedMessage[]): void {
    for (const logged of messages) {
      if (logged.eventId) this.causes.set(logged.eventId, { type: logged.type, workflowId: logged.correlationId });
      const event = parse(logged.message.payload);
      const { causationId, id, type, occurredAt, source, data } = event ?? {};
      if (typeof id === 'string') this.loggedData.set(id, JSON.stringify(data));
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
      this.report('not-in-log', topic, type, causationId);
      return undefined;
    }
    return caused.splice(at, 1)[0].stamp;
  }

  /**
   * Checks a rebuilt output that took a logged event's id against that event: other data means
   * its handler decided otherwise than live (reported). One the log does not have is not checked.
   */
  checkData(topic: string, payload: Buffer | string): void {
    const { id, type, causationId, data } = parse(payload) ?? {};
    const logged = typeof id === 'string' ? this.loggedData.get(id) : undefined;
    if (logged === undefined || JSON.stringify(data) === logged) return;
    this.report('other-data', topic, String(type), typeof causationId === 'string' ? causationId : undefined);
  }

  private report(
    difference: UnmatchedOutput['difference'],
    topic: string,
    type: string,
    causationId: string | undefined,
  ): void {
    const cause = causationId === undefined ? undefined : this.causes.get(causationId);
    this.unmatched.push({
      topic,
      type,
      difference,
      causationId,
      causeType: cause?.type,
      workflowId: cause?.workflowId,
    });
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
    if (logged.type === 'workflow.submitted' || logged.type === 'workflow.requested')
      collect(parse(logged.message.payload)?.['data']);
  return [...skills].map((skill) => `${base}${Topics.tasks(skill)}`);
}
