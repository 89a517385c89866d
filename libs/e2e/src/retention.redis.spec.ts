import { join } from 'node:path';
import Redis from 'ioredis';
import { AggregatorModule } from '@agent-mesh/agents/aggregator';
import { MarketMakerModule } from '@agent-mesh/agents/market-maker';
import { OrchestratorModule } from '@agent-mesh/agents/orchestrator';
import { SagaCoordinatorModule } from '@agent-mesh/agents/saga-coordinator';
import { WorkerModule } from '@agent-mesh/agents/worker';
import { demoWorkflows, loadDocuments, runDemo } from '@agent-mesh/demo';
import { InProcessMesh, RedisFixture } from '@agent-mesh/testing';
import { sleep } from './support/test-skills';

/**
 * "State that does not grow without bound": every pattern of the demo runs over the real Redis
 * with a short WORKFLOW_RETENTION_MS; once they ended, every key of their state — each role's —
 * has a time to live, and after the retention period none is left but the workflow index.
 */
describe('retention of ended workflows (every role, the real Redis)', () => {
  const redis = new RedisFixture();
  const mesh = new InProcessMesh();
  const raw = new Redis(redis.url, { lazyConnect: true });
  const RETENTION_MS = 4000;
  /** Keys that are not one workflow's: the index, pruned by the sweep and by listing. */
  const GLOBAL = /^orchestrator:(index(:[a-z-]+)?|expiring)$/;

  afterAll(async () => {
    await mesh.stopAll();
    raw.disconnect();
    await redis.cleanup();
  });

  it('gives every key of an ended workflow a time to live, then lets them all expire', async () => {
    const app = await mesh.start({
      role: 'mesh',
      modules: [OrchestratorModule, WorkerModule, AggregatorModule, SagaCoordinatorModule, MarketMakerModule],
      stateStore: await redis.connect(),
      env: { WORKFLOW_RETENTION_MS: String(RETENTION_MS) },
    });
    const workflows = demoWorkflows(loadDocuments(join(__dirname, '../../../data/documents')));
    const summary = await runDemo({ baseUrl: app.url, workflows, print: () => undefined });
    expect(summary.workflows.map((w) => w.status)).toEqual(workflows.map((w) => w.expect));

    await raw.connect();
    const stateKeys = async () =>
      (await raw.keys(`${redis.keyPrefix}*`))
        .map((key) => key.slice(redis.keyPrefix.length))
        .filter((key) => !key.startsWith('applied:') && !GLOBAL.test(key));
    const keys = await stateKeys();
    expect(keys.length).toBeGreaterThan(20);
    const withoutTtl = [];
    for (const key of keys) if ((await raw.pttl(`${redis.keyPrefix}${key}`)) < 0) withoutTtl.push(key);
    expect(withoutTtl).toEqual([]);

    await sleep(RETENTION_MS + 500);
    expect(await stateKeys()).toEqual([]);
    const listed = (await (await fetch(`${app.url}/workflows`)).json()) as { workflows: unknown[] };
    expect(listed.workflows).toEqual([]);
  });
});
