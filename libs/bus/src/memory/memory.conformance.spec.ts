import { describeBusConformance } from '../conformance/bus-conformance';
import { MemoryBroker } from './memory-broker';

const broker = new MemoryBroker();
afterAll(() => broker.shutdown());

describeBusConformance({
  name: 'memory',
  connect: async () => broker.connect(),
  topic: (name) => `persistent://test/conf/${name}-${Math.random().toString(36).slice(2)}`,
});
