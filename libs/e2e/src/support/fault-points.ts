import type { EventBus } from '@agent-mesh/bus';
import { EnvelopeProperties } from '@agent-mesh/contracts';
import type { StateStore } from '@agent-mesh/state';
import { FaultyStore, type StoreWrite } from '@agent-mesh/state/testing';
import { FaultyBus, type AgentRole, type PublishFault } from '@agent-mesh/testing';

/*
 * The fault points of a workflow: every state-store write and every publish an agent role makes
 * while the workflow runs, each named so that the same call can be found again in another run
 * of the same workflow — and failed there, once.
 *
 * A call is named by what it does with the ids taken out (`<id>`): a write by its method, its
 * markers (or the keys of plain ops) and the event types and step paths of the values it writes;
 * a publish by its topic, its event type and the step, task and branch it is about. Calls with
 * the same name are told apart by their order (`#0`, `#1`, …). Each run is one workflow; calls
 * that name an earlier run's workflow (late or redelivered events) go through uncounted.
 */

/** before: the call fails and nothing happens; after: it happens, and the caller still sees it fail. */
export type FaultTiming = 'before' | 'after';

/** One call of a role in one run of a workflow: `<name>#<n>`. */
export interface FaultPoint {
  readonly role: AgentRole;
  readonly call: string;
}

export interface FaultTarget extends FaultPoint {
  readonly timing: FaultTiming;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const anonymous = (text: string): string => text.replace(UUID, '<id>');

/** Event types and step paths inside the values a write stores (timeline entries, step records). */
function valueHints(values: readonly string[]): string[] {
  const hints = new Set<string>();
  for (const value of values) {
    for (const m of value.matchAll(/"(type|stepPath|path|status)":"([^"]+)"/g)) hints.add(`${m[1]}=${m[2]}`);
  }
  return [...hints].sort();
}

/** The name of a write, and the text in which the workflow's id is looked for. */
function describeWrite(write: StoreWrite, values: readonly string[]): { name: string; text: string } {
  const hints = valueHints(values);
  const name = `${write.method} ${write.names.map(anonymous).join(' ')}${hints.length ? ` [${hints.join(' ')}]` : ''}`;
  return { name, text: `${write.names.join(' ')} ${values.join(' ')}` };
}

/** The name of a publish, and the text in which the workflow's id is looked for. */
function describePublish(topic: string, payload: string, properties: Readonly<Record<string, string>>) {
  const type = properties[EnvelopeProperties.eventType] ?? '?';
  const short = topic.slice(topic.lastIndexOf('/') + 1);
  let about = '';
  try {
    const data = (JSON.parse(payload) as { data?: Record<string, unknown> }).data ?? {};
    const fields = ['stepPath', 'taskId', 'branchIndex', 'index', 'phase', 'attempt', 'branches', 'askId'];
    about = fields
      .filter((f) => data[f] !== undefined)
      .map((f) => `${f}=${anonymous(JSON.stringify(data[f]))}`)
      .join(' ');
  } catch {
    about = 'unparseable';
  }
  return { name: `publish ${short} ${type} ${about}`.trim(), text: payload };
}

interface Run {
  readonly target?: FaultTarget;
  readonly seen: Map<string, number>;
  readonly calls: FaultPoint[];
  fired?: FaultTarget;
  lastCallAt: number;
}

/**
 * Names every write and publish of the processes it wraps, per run, and fails the one call a
 * run targets, once. One workflow runs at a time (a mesh per scenario).
 */
export class FaultInjector {
  private readonly earlier = new Set<string>();
  private run: Run = { seen: new Map(), calls: [], lastCallAt: Date.now() };

  /** A state store for a process of `role`, whose writes are counted and may fail. */
  store(role: AgentRole, store: StateStore): StateStore {
    return new FaultyStore(store, (write) => {
      const { name, text } = describeWrite(write, write.values);
      return this.decide(role, name, text);
    });
  }

  /** Wraps a process's bus client: its publishes are counted and may fail; nacks come back after `nackRedeliveryDelayMs`. */
  bus(role: AgentRole, nackRedeliveryDelayMs: number): (bus: EventBus) => EventBus {
    return (bus) =>
      new FaultyBus(bus, {
        nackRedeliveryDelayMs,
        decide: (topic, message) => {
          const { name, text } = describePublish(topic, String(message.payload), message.properties ?? {});
          return this.decide(role, name, text);
        },
      });
  }

  /** Starts counting a new run, which fails `target` once (or nothing: a recording run). */
  begin(target?: FaultTarget): void {
    this.run = { target, seen: new Map(), calls: [], lastCallAt: Date.now() };
  }

  /** Ends the run of `workflowId`: its late calls go through uncounted from now on. */
  end(workflowId: string | undefined): { calls: readonly FaultPoint[]; fired?: FaultTarget } {
    if (workflowId) this.earlier.add(workflowId);
    return { calls: this.run.calls, fired: this.run.fired };
  }

  /** Whether the target has failed, and how long ago the last counted call was. */
  get fired(): boolean {
    return this.run.fired !== undefined;
  }

  get quietForMs(): number {
    return Date.now() - this.run.lastCallAt;
  }

  private decide(role: AgentRole, name: string, text: string): PublishFault {
    for (const id of text.match(UUID) ?? []) if (this.earlier.has(id)) return 'pass';
    const run = this.run;
    const key = `${role} ${name}`;
    const n = run.seen.get(key) ?? 0;
    run.seen.set(key, n + 1);
    const call = `${name}#${n}`;
    run.calls.push({ role, call });
    run.lastCallAt = Date.now();
    const target = run.target;
    if (!target || run.fired || target.role !== role || target.call !== call) return 'pass';
    run.fired = target;
    return target.timing;
  }
}
