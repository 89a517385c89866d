import { parseArgs } from 'node:util';
import type { BusMessage } from '@agent-mesh/bus';
import { EnvelopeProperties, qualifyTopic, Topics } from '@agent-mesh/contracts';
import { type BrokerCommandGroup, type CliContext } from '../command';
import { styles, type Styles } from '../live-view';
import { TopicFollower } from '../topic-follower';
import { clock } from '../workflow-format';
import { untilInterrupted } from './interrupt';

/** The topics `mesh tail` follows: workflow and saga events, task assignments (`tasks.*`) and results. */
export function isTailTopic(shortName: string): boolean {
  if (/-(RETRY|DLQ)$/.test(shortName) || /-partition-\d+$/.test(shortName)) return false;
  return (
    shortName === Topics.workflowEvents ||
    shortName === Topics.sagaEvents ||
    /^task\.results(\.[a-z0-9-]+)?$/.test(shortName) ||
    shortName.startsWith('tasks.')
  );
}

/** Fields of an event's data worth a glance in a one-line view, in this order. */
const DETAIL_FIELDS = [
  'stepPath',
  'taskId',
  'skill',
  'inputId',
  'worker',
  'durationMs',
  'branchCount',
  'attempt',
  'reason',
  'error',
];

/**
 * `mesh tail`: events as they flow, read from the broker with non-durable readers from the
 * latest message (a tail leaves no subscription behind and takes nothing from the agents).
 * Topics that appear meanwhile (a new skill's `tasks.<skill>`) are followed from their start.
 */
export const tailCommand: BrokerCommandGroup = {
  name: 'tail',
  summary: 'events as they flow: workflow.events, saga.events, tasks.* and task.results* (Ctrl-C stops)',
  usage: [
    'mesh tail [--workflow <id>] [--topic <name> …] [--json]',
    '  (--workflow: only that workflow’s events; --topic: follow these topics instead; --json: one envelope a line)',
  ],
  async run(args, context) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        workflow: { type: 'string' },
        topic: { type: 'string', multiple: true },
        json: { type: 'boolean' },
      },
    });
    const { output, naming } = context;
    const s = styles(output, context.env);
    const chosen = values.topic?.map((name) => qualifyTopic(naming, name));
    const fixed =
      chosen ??
      [Topics.workflowEvents, Topics.sagaEvents, Topics.taskResults].map((name) => qualifyTopic(naming, name));
    const follower = await TopicFollower.start({
      bus: context.bus,
      topics: fixed,
      discover: chosen ? undefined : discoverTailTopics(context),
      onMessage: (message) => {
        const event = readEvent(message);
        if (values.workflow && event.correlationId !== values.workflow) return;
        output.out(values.json ? JSON.stringify(event) : tailLine(event, s));
      },
      onProblem: (what) => output.err(`mesh tail: ${what}`),
    });
    if (!chosen && !context.topics) {
      output.err('mesh tail: tasks.* not followed: listing them needs the admin API (set PULSAR_WEB_URL)');
    }
    output.err(
      `following ${follower.topics.length} topics${values.workflow ? ` for workflow ${values.workflow}` : ''} (Ctrl-C stops)`,
    );
    await untilInterrupted();
    await follower.close();
    return 0;
  },
};

function discoverTailTopics(context: CliContext): (() => Promise<string[]>) | undefined {
  const { topics } = context;
  if (!topics) return undefined;
  return async () => (await topics()).filter((topic) => isTailTopic(topic.slice(topic.lastIndexOf('/') + 1)));
}

/** What `mesh tail` shows of a message: its envelope's fields, or what the message says of itself. */
export interface TailEvent {
  readonly topic: string;
  readonly publishTime: number;
  readonly type: string;
  readonly correlationId?: string;
  readonly source?: string;
  readonly data?: Record<string, unknown>;
  /** Set when the payload is not an envelope. */
  readonly unreadable?: string;
}

export function readEvent(message: BusMessage): TailEvent {
  const topic = message.topic.slice(message.topic.lastIndexOf('/') + 1);
  const properties = message.properties;
  const base = {
    topic,
    publishTime: message.publishTime,
    type: properties[EnvelopeProperties.eventType] ?? '?',
    correlationId: properties[EnvelopeProperties.correlationId] ?? message.key,
    source: properties[EnvelopeProperties.source],
  };
  let envelope: unknown;
  try {
    envelope = JSON.parse(message.payload.toString('utf8'));
  } catch {
    return { ...base, unreadable: `not JSON (${message.payload.length} bytes)` };
  }
  if (typeof envelope !== 'object' || envelope === null) return { ...base, unreadable: 'not an envelope' };
  const e = envelope as Record<string, unknown>;
  const text = (value: unknown, fallback?: string) => (typeof value === 'string' ? value : fallback);
  return {
    ...base,
    type: text(e['type'], base.type) ?? '?',
    correlationId: text(e['correlationId'], base.correlationId),
    source: text(e['source'], base.source),
    data: typeof e['data'] === 'object' && e['data'] !== null ? (e['data'] as Record<string, unknown>) : undefined,
  };
}

/** `12:00:00.123  tasks.keywords  task.assigned  <workflow>  orchestrator@o-1  taskId=… skill=keywords`. */
export function tailLine(event: TailEvent, s: Styles): string {
  const detail = event.unreadable ?? detailOf(event.data);
  const failed = /(failed|timed-out|cancelled|compensated)$/.test(event.type);
  const type = failed ? s.red(event.type) : event.type.endsWith('completed') ? s.green(event.type) : event.type;
  return [
    s.dim(clock(event.publishTime)),
    s.dim(event.topic),
    type,
    event.correlationId ?? '-',
    s.dim(event.source ?? '-'),
    detail,
  ]
    .filter((part) => part !== '')
    .join('  ');
}

function detailOf(data: Record<string, unknown> | undefined): string {
  if (!data) return '';
  const parts: string[] = [];
  for (const field of DETAIL_FIELDS) {
    const value = data[field];
    if (value === undefined || value === null || typeof value === 'object') continue;
    const text = String(value).replace(/\s+/g, ' ');
    parts.push(`${field}=${text.length > 80 ? `${text.slice(0, 79)}…` : text}`);
  }
  return parts.join(' ');
}
