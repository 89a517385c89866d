import { MemoryBroker } from './memory-broker';

describe('MemoryBroker.subscriptionStats', () => {
  it("gives each subscription's backlog, consumers and deliveries, as a broker's admin stats do", async () => {
    const broker = new MemoryBroker();
    const bus = broker.connect();
    const topic = 'persistent://t/ns/stats';
    const seen: string[] = [];
    const consumer = await bus.subscribe({ topic, subscription: 'reading', type: 'Shared' }, async (message, c) => {
      seen.push(message.payload.toString());
      await c.ack(message);
    });
    const idle = await bus.subscribe({ topic, subscription: 'idle', type: 'Shared' }, () => undefined);
    await idle.close(); // a durable subscription nobody reads: its backlog grows
    for (const payload of ['a', 'b', 'c']) await bus.publish(topic, { payload });
    for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 5));

    expect(bus.subscriptionStats()).toEqual([
      { topic, subscription: 'reading', backlog: 0, consumers: 1, delivered: 3 },
      { topic, subscription: 'idle', backlog: 3, consumers: 0, delivered: 0 },
    ]);
    await consumer.close();
    await bus.close();
    broker.shutdown();
  });
});
