import { parseArgs } from 'node:util';
import { qualifyTopic, Topics } from '@agent-mesh/contracts';
import { DEAD_LETTER_SUBSCRIPTION } from '@agent-mesh/bus';
import { UsageError, type CliContext, type CommandGroup } from '../command';
import { DeadLetterSession, type DeadLetter, type DeadLetterFilter } from '../dead-letters';

const FILTER_OPTIONS = {
  topic: { type: 'string' },
  reason: { type: 'string' },
  since: { type: 'string' },
  all: { type: 'boolean' },
  json: { type: 'boolean' },
  'dlq-topic': { type: 'string' },
} as const;

/** `mesh dlq list | show | replay | purge`: the pending dead letters of the mesh's dead-letter topic. */
export const dlqCommands: CommandGroup = {
  name: 'dlq',
  summary: 'list, show, replay and purge dead letters',
  usage: [
    'mesh dlq list [--topic <origin>] [--reason <text>] [--since <ISO time|duration, e.g. 2h>] [--json]',
    'mesh dlq show <id> [--json]',
    'mesh dlq replay <id> | --all [--topic <origin>] [--reason <text>] [--since <time>]',
    'mesh dlq purge <id> | --all [--topic <origin>] [--reason <text>] [--since <time>]',
    '  (--dlq-topic <name>: another dead-letter topic than mesh.dlq)',
  ],
  async run(args, context) {
    const [verb, ...rest] = args;
    const { values, positionals } = parseArgs({ args: rest, options: FILTER_OPTIONS, allowPositionals: true });
    const action = verb ? ACTIONS[verb] : undefined;
    if (!action) throw new UsageError(verb ? `unknown command "dlq ${verb}"` : 'mesh dlq needs a command');
    const topic = qualifyTopic(context.naming, values['dlq-topic'] ?? Topics.deadLetter);
    const { backlog } = context;
    const session = await DeadLetterSession.open({
      bus: context.bus,
      topic,
      backlog: backlog ? () => backlog(topic, DEAD_LETTER_SUBSCRIPTION) : undefined,
    });
    try {
      return await action(session, { values, positionals }, context);
    } finally {
      await session.close();
    }
  },
};

interface Parsed {
  readonly values: { topic?: string; reason?: string; since?: string; all?: boolean; json?: boolean };
  readonly positionals: readonly string[];
}

type Action = (session: DeadLetterSession, parsed: Parsed, context: CliContext) => Promise<number>;

const ACTIONS: Record<string, Action> = {
  async list(session, { values }, { output }) {
    const letters = session.find(filterOf(values));
    if (values.json) {
      output.out(JSON.stringify(letters.map(summary), null, 2));
      return 0;
    }
    for (const l of letters) {
      output.out(
        `${l.id}  ${l.deadLetteredAt}  ${l.originTopic} (${l.subscription})  attempts ${l.attempts}${l.replays ? `, replays ${l.replays}` : ''}  ${l.reason}`,
      );
    }
    output.out(
      `${letters.length} dead letter(s)${letters.length < session.letters.length ? ` of ${session.letters.length}` : ''}`,
    );
    return 0;
  },

  async show(session, { values, positionals }, { output }) {
    const letter = one(session, positionals);
    if (!letter) return notFound(positionals[0], output.err);
    if (values.json) {
      output.out(
        JSON.stringify(
          { ...summary(letter), properties: letter.message.properties, payload: payloadOf(letter) },
          null,
          2,
        ),
      );
      return 0;
    }
    output.out(`id: ${letter.id}`);
    output.out(`dead-lettered at: ${letter.deadLetteredAt}`);
    output.out(`key: ${letter.message.key ?? '-'}`);
    output.out('properties:');
    for (const [name, value] of Object.entries(letter.message.properties).sort()) {
      output.out(`  ${name}: ${value.includes('\n') ? `\n    ${value.split('\n').join('\n    ')}` : value}`);
    }
    output.out('payload:');
    const payload = payloadOf(letter);
    output.out(typeof payload === 'string' ? payload : JSON.stringify(payload, null, 2));
    return 0;
  },

  async replay(session, parsed, { output }) {
    const letters = chosen(session, parsed);
    if (!letters) return notFound(parsed.positionals[0], output.err);
    for (const letter of letters) {
      const id = await session.replay(letter);
      output.out(`replayed ${letter.id} to ${letter.originTopic} as ${id}`);
    }
    output.out(`replayed ${letters.length} dead letter(s)`);
    return 0;
  },

  async purge(session, parsed, { output }) {
    const letters = chosen(session, parsed);
    if (!letters) return notFound(parsed.positionals[0], output.err);
    for (const letter of letters) await session.purge(letter);
    output.out(`purged ${letters.length} dead letter(s)`);
    return 0;
  },
};

/** `<id>`, or `--all` with the filters; undefined when the id is not pending. */
function chosen(session: DeadLetterSession, { values, positionals }: Parsed): DeadLetter[] | undefined {
  if (values.all && positionals.length > 0) throw new UsageError('give an id or --all, not both');
  if (values.all) return session.find(filterOf(values));
  const letter = one(session, positionals);
  return letter ? [letter] : undefined;
}

function one(session: DeadLetterSession, positionals: readonly string[]): DeadLetter | undefined {
  if (positionals.length !== 1) throw new UsageError('give exactly one dead letter id (from mesh dlq list)');
  return session.get(positionals[0]);
}

function notFound(id: string | undefined, err: (line: string) => void): number {
  err(`no pending dead letter ${id} (already replayed or purged? see mesh dlq list)`);
  return 1;
}

export function filterOf(values: Parsed['values']): DeadLetterFilter {
  return { topic: values.topic, reason: values.reason, since: values.since ? parseSince(values.since) : undefined };
}

/** An ISO time, or a duration back from now: `90s`, `15m`, `2h`, `7d`. */
export function parseSince(text: string, now = Date.now()): number {
  const duration = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (duration) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
      duration[2] as 'ms' | 's' | 'm' | 'h' | 'd'
    ];
    return now - Number(duration[1]) * unit;
  }
  const time = Date.parse(text);
  if (Number.isNaN(time)) throw new UsageError(`--since must be an ISO time or a duration like 2h (got "${text}")`);
  return time;
}

function summary(letter: DeadLetter): Omit<DeadLetter, 'message'> {
  const { message: _message, ...rest } = letter;
  return rest;
}

function payloadOf(letter: DeadLetter): unknown {
  const text = letter.message.payload.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
