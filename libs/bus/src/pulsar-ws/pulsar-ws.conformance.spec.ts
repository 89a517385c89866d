import { randomBytes } from 'node:crypto';
import { assertPulsarAnswers, describeWithPulsar } from '../conformance/pulsar-environment';
import { describeBusConformance } from '../conformance/bus-conformance';
import { PulsarWsEventBus } from './pulsar-ws-bus';

describeWithPulsar('pulsar-ws driver against the real broker', (env) => {
  beforeAll(() => assertPulsarAnswers(env));
  const run = randomBytes(4).toString('hex');
  describeBusConformance({
    name: 'pulsar-ws',
    connect: async () => new PulsarWsEventBus({ webUrl: env.webUrl }),
    topic: (name) =>
      `persistent://${env.tenant}/${env.namespace}/conformance-${run}-${name}-${randomBytes(3).toString('hex')}`,
    timeScale: 3,
  });
});
