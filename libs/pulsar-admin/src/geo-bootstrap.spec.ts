import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import { bootstrapGeoReplication } from './geo-bootstrap';
import { PulsarAdmin } from './pulsar-admin';

/*
 * What the geo bootstrap refuses before it writes anything. Joining two real clusters, its
 * idempotence and the replication lag are checked on two clusters of their own by
 * libs/e2e/src/geo/geo-replication.pulsar.spec.ts.
 */
describe('bootstrapGeoReplication: what it refuses', () => {
  it('needs two clusters and a namespace', async () => {
    await expect(
      bootstrapGeoReplication({ webUrls: ['http://127.0.0.1:1'], tenant: 't', namespaces: ['ns'] }),
    ).rejects.toThrow(/at least two clusters/);
    await expect(
      bootstrapGeoReplication({ webUrls: ['http://127.0.0.1:1', 'http://127.0.0.1:2'], tenant: 't', namespaces: [] }),
    ).rejects.toThrow(/at least one namespace/);
  });
});

describeWithPulsar('bootstrapGeoReplication against one real broker', (env) => {
  beforeAll(() => assertPulsarAnswers(env));

  it('stops, changing nothing, when two URLs are the same cluster', async () => {
    const admin = new PulsarAdmin({ webUrl: env.webUrl });
    const name = await admin.brokerClusterName();
    const clustersBefore = await admin.clusters();
    const other = env.webUrl.replace('127.0.0.1', 'localhost');
    await expect(
      bootstrapGeoReplication({ webUrls: [env.webUrl, other], tenant: env.tenant, namespaces: [env.namespace] }),
    ).rejects.toThrow(`are both cluster "${name}"`);
    expect(await admin.clusters()).toEqual(clustersBefore);
  });
});
