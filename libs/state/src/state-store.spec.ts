import { MemoryStateStore } from './memory/memory-state-store';
import type { StateStore } from './state-store';
import { stateStoreConformance, type StateStoreHarness } from './testing/state-store.conformance';
import { connectTestStore, deletePrefix, rawClient, uniquePrefix } from './testing/redis-test-env';

const memory: StateStoreHarness = {
  open: async (): Promise<StateStore> => new MemoryStateStore(),
};

/** A Redis store under a prefix of its own, deleted after the suite. */
function redisHarness(options: { readonly autoPipelining?: boolean } = {}): StateStoreHarness {
  const prefix = uniquePrefix();
  return {
    open: () => connectTestStore({ keyPrefix: prefix, ...options }),
    cleanup: async () => {
      const client = rawClient();
      try {
        await client.connect();
        await deletePrefix(client, prefix);
      } finally {
        client.disconnect();
      }
    },
  };
}

describe.each([
  ['memory', memory],
  ['redis', redisHarness()],
  // auto-pipelining is the default; the suite also holds without it
  ['redis without auto-pipelining', redisHarness({ autoPipelining: false })],
])('StateStore conformance: %s', (_driver, harness) => {
  stateStoreConformance(harness);
});
