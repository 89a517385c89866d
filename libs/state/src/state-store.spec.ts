import { MemoryStateStore } from './memory/memory-state-store';
import type { StateStore } from './state-store';
import { stateStoreConformance, type StateStoreHarness } from './testing/state-store.conformance';
import { connectTestStore, deletePrefix, rawClient, uniquePrefix } from './testing/redis-test-env';

const memory: StateStoreHarness = {
  open: async (): Promise<StateStore> => new MemoryStateStore(),
};

const redisPrefix = uniquePrefix();
const redis: StateStoreHarness = {
  open: () => connectTestStore({ keyPrefix: redisPrefix }),
  cleanup: async () => {
    const client = rawClient();
    try {
      await client.connect();
      await deletePrefix(client, redisPrefix);
    } finally {
      client.disconnect();
    }
  },
};

describe.each([
  ['memory', memory],
  ['redis', redis],
])('StateStore conformance: %s', (_driver, harness) => {
  stateStoreConformance(harness);
});
