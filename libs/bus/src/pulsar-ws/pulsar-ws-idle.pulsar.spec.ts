import { randomBytes } from 'node:crypto';
import { assertPulsarAnswers, describeWithPulsar } from '../conformance/pulsar-environment';
import { waitFor } from '../conformance/helpers';
import { PulsarWsEventBus } from './pulsar-ws-bus';

/**
 * Idle producers on the real broker: the broker's own topic stats say whether a producer is
 * connected. (libs/pulsar-admin depends on this lib, so its topicStats() is not used here: the
 * stats are one GET.) The native driver shares the idle sweep (pulsar-bus-base.ts) but cannot
 * load without the pulsar-client binary, so only the WebSocket driver runs here.
 */
describeWithPulsar('pulsar-ws idle producers against the real broker', (env) => {
  beforeAll(() => assertPulsarAnswers(env));
  const run = randomBytes(4).toString('hex');
  const topics = ['a', 'b', 'c'].map((name) => `persistent://${env.tenant}/${env.namespace}/idle-${run}-${name}`);
  let bus: PulsarWsEventBus | undefined;

  afterEach(async () => {
    await bus?.close();
    bus = undefined;
  });

  async function publishers(topic: string): Promise<number> {
    const path = topic.replace('://', '/');
    const response = await fetch(`${env.webUrl}/admin/v2/${path}/stats`);
    if (!response.ok) throw new Error(`stats of ${topic}: HTTP ${response.status} ${await response.text()}`);
    return ((await response.json()) as { publishers: unknown[] }).publishers.length;
  }

  const publishersOfAll = (): Promise<number[]> => Promise.all(topics.map(publishers));

  it('closes producers unused for producerIdleMs and opens a new one on the next publish, losing nothing', async () => {
    bus = new PulsarWsEventBus({ webUrl: env.webUrl, producerIdleMs: 1500 });
    for (const topic of topics) await bus.publish(topic, { payload: `first ${topic}` });
    expect(await publishersOfAll()).toEqual([1, 1, 1]);

    let seen: number[] = [];
    await waitFor(
      async () => (seen = await publishersOfAll()).every((n) => n === 0),
      20_000,
      () => `no publishers left on the idle topics, saw [${seen.join(', ')}]`,
      200,
    );

    const again = topics[1];
    await bus.publish(again, { payload: 'after the idle close' });
    expect(await publishersOfAll()).toEqual([0, 1, 0]);

    const reader = await bus.createReader({ topic: again, startMessageId: 'earliest' });
    const payloads: string[] = [];
    for (let message = await reader.readNext(10_000); message; message = await reader.readNext(2000)) {
      payloads.push(message.payload.toString());
      if (payloads.length === 2) break;
    }
    expect(payloads).toEqual([`first ${again}`, 'after the idle close']);
  });
});
