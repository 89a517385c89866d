import {
  DEAD_LETTER_SUBSCRIPTION,
  DeadLetterProperties,
  MemoryBroker,
  type BusMessage,
  type EventBus,
} from '@agent-mesh/bus';
import { qualifyTopic, Topics, type TopicNaming } from '@agent-mesh/contracts';
import { runMeshCli } from './cli';
import type { CliContext } from './command';
import { parseSince } from './commands/dlq';

const naming: TopicNaming = { tenant: 't', namespace: 'n' };
const DLQ = qualifyTopic(naming, Topics.deadLetter);
const ORDERS = qualifyTopic(naming, 'orders');

interface Listed {
  readonly id: string;
  readonly originTopic: string;
  readonly subscription: string;
  readonly reason: string;
  readonly attempts: number;
  readonly replays: number;
  readonly firstFailureAt: string;
  readonly lastFailureAt: string;
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The `mesh dlq` commands on the memory bus: a consumer that dead-letters what it cannot handle
 * plays the agent (the real-broker run with agents is libs/e2e/src/dlq-replay.pulsar.spec.ts).
 */
describe('mesh dlq (memory bus)', () => {
  let broker: MemoryBroker;
  let bus: EventBus;
  let lines: string[];
  let context: CliContext;
  let handled: BusMessage[];
  let healthy: boolean;

  beforeEach(async () => {
    broker = new MemoryBroker();
    bus = broker.connect();
    lines = [];
    handled = [];
    healthy = false;
    context = {
      bus,
      env: {},
      naming,
      backlog: async (topic, subscription) => broker.backlog(topic, subscription),
      output: { out: (line) => lines.push(line), err: (line) => lines.push(`ERR ${line}`) },
    };
    // as the transport does on start: the dead letters' subscription exists before the first one
    await (
      await bus.subscribe({ topic: DLQ, subscription: DEAD_LETTER_SUBSCRIPTION, type: 'Shared' }, () => undefined)
    ).close();
    await bus.subscribe(
      {
        topic: ORDERS,
        subscription: 'billing',
        type: 'Shared',
        deadLetter: { maxRedeliverCount: 3, deadLetterTopic: DLQ },
      },
      async (message, consumer) => {
        handled.push(message);
        if (healthy) return consumer.ack(message);
        return consumer.deadLetter(
          message,
          `handler failed: cannot bill ${message.key}`,
          `Error: cannot bill\n    at bill()`,
        );
      },
    );
  });

  afterEach(async () => {
    await bus.close();
    broker.shutdown();
  });

  async function mesh(...argv: string[]): Promise<number> {
    lines = [];
    return runMeshCli(argv, { connect: async () => context, output: context.output });
  }

  async function list(...filters: string[]): Promise<Listed[]> {
    expect(await mesh('dlq', 'list', '--json', ...filters)).toBe(0);
    return JSON.parse(lines.join('\n')) as Listed[];
  }

  async function deadLetters(count: number): Promise<Listed[]> {
    return waitFor(`${count} dead letters`, async () => {
      const all = await list();
      return all.length === count ? all : undefined;
    });
  }

  it('lists, shows and filters the pending dead letters', async () => {
    await bus.publish(ORDERS, { payload: JSON.stringify({ order: 1 }), key: 'o-1', properties: { p: 'x' } });
    await bus.publish(ORDERS, { payload: 'not json', key: 'o-2' });
    const [first, second] = await deadLetters(2);
    expect(first).toMatchObject({ originTopic: ORDERS, subscription: 'billing', attempts: 1, replays: 0 });
    expect(first.reason).toBe('handler failed: cannot bill o-1');

    expect(await mesh('dlq', 'list')).toBe(0);
    expect(lines[0]).toMatch(
      new RegExp(
        `^${escape(first.id)}  \\S+  ${escape(ORDERS)} \\(billing\\)  attempts 1  handler failed: cannot bill o-1$`,
      ),
    );
    expect(lines.at(-1)).toBe('2 dead letter(s)');

    expect((await list('--reason', 'BILL O-2')).map((l) => l.id)).toEqual([second.id]);
    expect(await list('--topic', 'orders')).toHaveLength(2);
    expect(await list('--topic', 'payments')).toHaveLength(0);
    expect(await list('--since', new Date(Date.now() + 60_000).toISOString())).toHaveLength(0);
    expect(await list('--since', '1h')).toHaveLength(2);

    expect(await mesh('dlq', 'show', first.id)).toBe(0);
    const shown = lines.join('\n');
    expect(shown).toContain(`${DeadLetterProperties.error}: \n    Error: cannot bill\n        at bill()`);
    expect(shown).toContain('p: x');
    expect(shown).toContain('"order": 1');
    expect(await mesh('dlq', 'show', 'nope')).toBe(1);
    expect(lines).toEqual(['ERR no pending dead letter nope (already replayed or purged? see mesh dlq list)']);
    // listing and showing leave them pending
    expect(await list()).toHaveLength(2);
  });

  it('replays a dead letter once; one that fails again comes back with its history and a replay count', async () => {
    await bus.publish(ORDERS, { payload: '{}', key: 'o-1', properties: { p: 'x' } });
    const [letter] = await deadLetters(1);

    expect(await mesh('dlq', 'replay', letter.id)).toBe(0);
    expect(lines.at(-1)).toBe('replayed 1 dead letter(s)');
    await waitFor('the replay handled', async () => (handled.length === 2 ? true : undefined));
    expect(handled[1].key).toBe('o-1');
    expect(handled[1].properties['p']).toBe('x');
    expect(handled[1].properties[DeadLetterProperties.replays]).toBe('1');

    const [again] = await deadLetters(1);
    expect(again.id).not.toBe(letter.id);
    expect(again.attempts).toBe(2);
    expect(again.replays).toBe(1);
    expect(again.firstFailureAt).toBe(letter.firstFailureAt);
    expect(Date.parse(again.lastFailureAt)).toBeGreaterThanOrEqual(Date.parse(letter.lastFailureAt));
    // the first one was replayed once: it is gone
    expect(await mesh('dlq', 'replay', letter.id)).toBe(1);

    healthy = true;
    expect(await mesh('dlq', 'replay', '--all')).toBe(0);
    await waitFor('the second replay handled', async () => (handled.length === 3 ? true : undefined));
    expect(handled[2].properties[DeadLetterProperties.replays]).toBe('2');
    expect(await list()).toEqual([]);
  });

  it('purges what matches, and says how many', async () => {
    for (const key of ['a', 'b', 'c']) await bus.publish(ORDERS, { payload: '{}', key });
    await deadLetters(3);
    expect(await mesh('dlq', 'purge', '--all', '--reason', 'bill b')).toBe(0);
    expect(lines).toEqual(['purged 1 dead letter(s)']);
    expect(await list()).toHaveLength(2);
    expect(await mesh('dlq', 'purge', '--all')).toBe(0);
    expect(lines).toEqual(['purged 2 dead letter(s)']);
    expect(await list()).toEqual([]);
    expect(handled).toHaveLength(3);
  });

  it('refuses a bad command line with the usage (exit 2)', async () => {
    expect(await mesh('dlq', 'replay')).toBe(2);
    expect(lines[0]).toBe('ERR give exactly one dead letter id (from mesh dlq list)');
    expect(await mesh('dlq', 'replay', 'x', '--all')).toBe(2);
    expect(await mesh('dlq', 'list', '--since', 'yesterday')).toBe(2);
    expect(lines[0]).toBe('ERR --since must be an ISO time or a duration like 2h (got "yesterday")');
    expect(await mesh('dlq', 'frobnicate')).toBe(2);
    expect(await mesh('nope')).toBe(2);
  });

  it('names the setting when the configuration is wrong (exit 3)', async () => {
    const errors: string[] = [];
    const output = { out: () => undefined, err: (line: string) => errors.push(line) };
    expect(await runMeshCli(['dlq', 'list'], { env: { PULSAR_WEB_URL: 'localhost:8080' }, output })).toBe(3);
    expect(errors.join('\n')).toContain('PULSAR_WEB_URL must be an http:// or https:// URL (got "localhost:8080")');
    expect(await runMeshCli(['dlq', 'list'], { env: {}, output })).toBe(3);
    expect(errors.at(-1)).toContain('MESH_TRANSPORT=pulsar needs PULSAR_WEB_URL');
  });

  it('reads --since as an ISO time or a duration back from now', () => {
    expect(parseSince('2h', 10_000_000)).toBe(10_000_000 - 7_200_000);
    expect(parseSince('90s', 100_000)).toBe(10_000);
    expect(parseSince('2026-01-02T03:04:05Z')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
