import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { PulsarWsEventBus, type EventBus } from '@agent-mesh/bus';
import { describeWithPulsar } from '@agent-mesh/bus/testing';
import { runMeshCli, type CliOutput } from '@agent-mesh/cli';
import { qualifyTopic, Topics, type TopicNaming } from '@agent-mesh/contracts';
import {
  bootstrapGeoReplication,
  PulsarAdmin,
  replicationLag,
  type GeoBootstrapReport,
} from '@agent-mesh/pulsar-admin';
import { OrchestratorModule } from '@agent-mesh/agents/orchestrator';
import { LogWorkflowReader, runReplayCommand } from '@agent-mesh/replay';
import {
  eventually,
  InProcessMesh,
  PulsarBrokerFixture,
  RedisFixture,
  startAgents,
  WorkflowClient,
} from '@agent-mesh/testing';

/*
 * Geo-replication between two Pulsar clusters of the suite's own (us-east and eu-west, each a
 * standalone with its own metadata store, started by deploy/pulsar/pulsar.sh on ports of their
 * own; the shared broker on :8080 is never touched): the bootstrap joins them and is idempotent,
 * events cross in both directions, broker-side deduplication together with replication loses
 * nothing (measured), replication lag is read from the admin stats, and a workflow run in eu-west
 * is readable in us-east from its replicated events.
 */

const PORTS = {
  usEast: {
    web: envPort('GEO_US_EAST_WEB_PORT', 8380),
    broker: envPort('GEO_US_EAST_BROKER_PORT', 6950),
    bookie: envPort('GEO_US_EAST_BOOKIE_PORT', 3481),
  },
  euWest: {
    web: envPort('GEO_EU_WEST_WEB_PORT', 8390),
    broker: envPort('GEO_EU_WEST_BROKER_PORT', 6960),
    bookie: envPort('GEO_EU_WEST_BOOKIE_PORT', 3491),
  },
};
const NAMING: TopicNaming = { tenant: 'agentmesh', namespace: 'mesh' };
/** Messages of the deduplication measurement, per producer. */
const DEDUP_MESSAGES = Number(process.env['GEO_DEDUP_MESSAGES'] ?? 500);
const REPLICATION_WAIT_MS = 60_000;
/** Messages of the end-to-end replication latency measurement. */
const LATENCY_MESSAGES = 200;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The value of one Prometheus series whose labels include `labels`, or undefined. */
function seriesValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...match[2].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

function envPort(name: string, fallback: number): number {
  const value = process.env[name];
  return value ? Number(value) : fallback;
}

describeWithPulsar('geo-replication between two Pulsar clusters (us-east, eu-west)', () => {
  const usEast = new PulsarBrokerFixture({
    clusterName: 'us-east',
    webPort: PORTS.usEast.web,
    brokerPort: PORTS.usEast.broker,
    bookiePort: PORTS.usEast.bookie,
    commandTimeoutMs: 240_000,
  });
  const euWest = new PulsarBrokerFixture({
    clusterName: 'eu-west',
    webPort: PORTS.euWest.web,
    brokerPort: PORTS.euWest.broker,
    bookiePort: PORTS.euWest.bookie,
    commandTimeoutMs: 240_000,
  });
  const buses: EventBus[] = [];
  let usBus: EventBus;
  let euBus: EventBus;
  let firstBootstrap: GeoBootstrapReport;

  const bootstrap = () =>
    bootstrapGeoReplication({
      webUrls: [usEast.webUrl, euWest.webUrl],
      tenant: NAMING.tenant,
      namespaces: [NAMING.namespace],
    });

  beforeAll(async () => {
    const started = Date.now();
    // One after the other: two JVMs starting at once on a small machine can each miss the timeout.
    await usEast.start();
    await euWest.start();
    firstBootstrap = await bootstrap();
    usBus = new PulsarWsEventBus({ webUrl: usEast.webUrl });
    euBus = new PulsarWsEventBus({ webUrl: euWest.webUrl });
    buses.push(usBus, euBus);
    console.log(`geo: two clusters up and joined in ${Date.now() - started} ms`);
  }, 600_000);

  afterAll(async () => {
    await Promise.allSettled(buses.map((bus) => bus.close()));
    await Promise.allSettled([usEast.dispose(), euWest.dispose()]);
  }, 120_000);

  describe('the bootstrap', () => {
    it('registered each cluster with the other, allowed the tenant on both and replicates the namespace', async () => {
      expect(firstBootstrap.clusters.map((c) => c.name)).toEqual(['us-east', 'eu-west']);
      expect(firstBootstrap.changes).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^us-east: registered cluster eu-west/),
          expect.stringMatching(/^eu-west: registered cluster us-east/),
          expect.stringMatching(/^us-east: updated tenant agentmesh/),
          expect.stringMatching(/^us-east: namespace agentmesh\/mesh replicated to us-east, eu-west/),
          expect.stringMatching(/^eu-west: namespace agentmesh\/mesh replicated to eu-west, us-east/),
        ]),
      );
      for (const [admin, peer] of [
        [new PulsarAdmin({ webUrl: usEast.webUrl }), euWest],
        [new PulsarAdmin({ webUrl: euWest.webUrl }), usEast],
      ] as const) {
        expect(await admin.getCluster(peer.clusterName)).toEqual({
          serviceUrl: peer.webUrl,
          brokerServiceUrl: `pulsar://127.0.0.1:${peer.brokerPort}`,
        });
        expect((await admin.getTenant(NAMING.tenant)).allowedClusters.sort()).toEqual(['eu-west', 'us-east']);
        expect((await admin.getReplicationClusters(NAMING.tenant, NAMING.namespace)).sort()).toEqual([
          'eu-west',
          'us-east',
        ]);
      }
    });

    it('is idempotent: `mesh geo bootstrap` run again reports no changes and leaves every setting as it was', async () => {
      const before = await geoState([usEast.webUrl, euWest.webUrl]);
      const lines: string[] = [];
      const output: CliOutput = { out: (line) => lines.push(line), err: (line) => lines.push(`ERR ${line}`) };
      const env = {
        MESH_TRANSPORT: 'pulsar',
        PULSAR_WEB_URL: usEast.webUrl,
        PULSAR_SERVICE_URL: '',
        MESH_GEO_PEER_WEB_URLS: euWest.webUrl,
      };
      expect(await runMeshCli(['geo', 'bootstrap'], { env, output })).toBe(0);
      expect(lines).toContain('no changes: agentmesh/mesh already replicated between us-east, eu-west');
      expect(lines.filter((line) => line.startsWith('changed'))).toEqual([]);
      expect((await bootstrap()).changes).toEqual([]);
      expect(await geoState([usEast.webUrl, euWest.webUrl])).toEqual(before);
    });
  });

  describe('events cross regions', () => {
    it.each([
      ['eu-west', 'us-east'],
      ['us-east', 'eu-west'],
    ])('an event published in %s is read in %s', async (from, to) => {
      const topic = qualifyTopic(NAMING, `geo.probe-${randomBytes(4).toString('hex')}`);
      const source = from === 'us-east' ? usBus : euBus;
      const target = to === 'us-east' ? usBus : euBus;
      const body = `published in ${from}`;
      await source.publish(topic, { payload: body, key: 'probe', properties: { region: from } });
      const reader = await target.createReader({ topic, startMessageId: 'earliest' });
      try {
        const message = await readUntil(reader, (m) => m.payload.toString() === body, REPLICATION_WAIT_MS);
        expect(message.properties).toMatchObject({ region: from });
        expect(message.key).toBe('probe');
      } finally {
        await reader.close();
      }
    });
  });

  describe('deduplication (on in the namespace) together with geo-replication', () => {
    it('a producer in eu-west with its own name and sequence ids, retrying some sends: us-east gets every message once', async () => {
      const topic = `geo.dedup-${randomBytes(4).toString('hex')}`;
      const producer = `geo-dedup-${randomBytes(3).toString('hex')}`;
      const seqs = range(1, DEDUP_MESSAGES);
      // Then a retry of the last tenth, as a producer does after a lost receipt: the broker must drop them.
      const retried = seqs.slice(-Math.ceil(DEDUP_MESSAGES / 10));
      const sent = await publishWithSequenceIds(euWest.webPort, topic, producer, seqs, 'eu-west');
      expect(sent.filter((receipt) => receipt.duplicate)).toEqual([]);
      const again = await publishWithSequenceIds(euWest.webPort, topic, producer, retried, 'eu-west');
      expect(again.filter((receipt) => receipt.duplicate)).toHaveLength(retried.length);

      const found = await readOrigins(usBus, topic, DEDUP_MESSAGES);
      const received = found.get('eu-west') ?? [];
      const lost = seqs.filter((seq) => !received.includes(seq)).length;
      const duplicates = received.length - new Set(received).size;
      console.log(
        `geo+dedup: one producer, ${DEDUP_MESSAGES} messages + ${retried.length} retried sends in eu-west → us-east got ${received.length}, lost ${lost}, duplicates ${duplicates}`,
      );
      expect({ lost, duplicates }).toEqual({ lost: 0, duplicates: 0 });
    });

    it('the same producer name and sequence ids in both regions at once: each region keeps both streams whole', async () => {
      const topic = `geo.dedup-both-${randomBytes(4).toString('hex')}`;
      const producer = `geo-same-${randomBytes(3).toString('hex')}`;
      const seqs = range(1, DEDUP_MESSAGES);
      await Promise.all([
        publishWithSequenceIds(usEast.webPort, topic, producer, seqs, 'us-east'),
        publishWithSequenceIds(euWest.webPort, topic, producer, seqs, 'eu-west'),
      ]);
      const figures: string[] = [];
      const lostBy: Record<string, number> = {};
      for (const [region, bus] of [
        ['us-east', usBus],
        ['eu-west', euBus],
      ] as const) {
        const found = await readOrigins(bus, topic, 2 * DEDUP_MESSAGES);
        for (const origin of ['us-east', 'eu-west']) {
          const received = found.get(origin) ?? [];
          const lost = seqs.filter((seq) => !received.includes(seq)).length;
          lostBy[`${origin} in ${region}`] = lost;
          figures.push(`${origin}'s ${received.length}/${DEDUP_MESSAGES} in ${region} (lost ${lost})`);
        }
      }
      console.log(`geo+dedup: one producer name in both regions: ${figures.join('; ')}`);
      expect(lostBy).toEqual({
        'us-east in us-east': 0,
        'eu-west in us-east': 0,
        'us-east in eu-west': 0,
        'eu-west in eu-west': 0,
      });
    });
  });

  describe('replication lag', () => {
    it('is reported per topic and direction from the admin stats, and drains to 0', async () => {
      const topic = qualifyTopic(NAMING, `geo.lag-${randomBytes(4).toString('hex')}`);
      for (let i = 0; i < 20; i++) await usBus.publish(topic, { payload: `m${i}` });
      await euBus.publish(topic, { payload: 'back' });
      const usAdmin = new PulsarAdmin({ webUrl: usEast.webUrl });
      const euAdmin = new PulsarAdmin({ webUrl: euWest.webUrl });
      await eventually(
        'replication of the topic both ways, drained',
        async () => {
          const rows = [
            ...(await replicationLag(usAdmin, NAMING.tenant, NAMING.namespace)),
            ...(await replicationLag(euAdmin, NAMING.tenant, NAMING.namespace)),
          ].filter((row) => row.topic === topic);
          expect(rows.map((row) => `${row.from}→${row.to}`).sort()).toEqual(['eu-west→us-east', 'us-east→eu-west']);
          for (const row of rows) expect(row).toMatchObject({ backlog: 0, delaySeconds: 0, connected: true });
          return true;
        },
        REPLICATION_WAIT_MS,
      );
    });

    it('end to end, publish in us-east to read in eu-west: every message, and how long it took', async () => {
      const topic = qualifyTopic(NAMING, `geo.latency-${randomBytes(4).toString('hex')}`);
      const reader = await euBus.createReader({ topic, startMessageId: 'earliest' });
      const sentAt = new Map<number, number>();
      const lagMs: number[] = [];
      const reading = (async () => {
        const deadline = Date.now() + REPLICATION_WAIT_MS;
        while (lagMs.length < LATENCY_MESSAGES && Date.now() < deadline) {
          const message = await reader.readNext(1_000);
          const sent = message ? sentAt.get(Number(message.payload.toString())) : undefined;
          if (sent !== undefined) lagMs.push(Date.now() - sent);
        }
      })();
      try {
        for (let i = 0; i < LATENCY_MESSAGES; i++) {
          sentAt.set(i, Date.now());
          await usBus.publish(topic, { payload: String(i) });
          await sleep(10);
        }
        await reading;
      } finally {
        await reader.close();
      }
      const sorted = [...lagMs].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
      console.log(
        `geo: replication us-east → eu-west, ${LATENCY_MESSAGES} messages at ~100/s: received ${lagMs.length}, ` +
          `publish-to-read p50/p99/max ${at(0.5)}/${at(0.99)}/${sorted[sorted.length - 1]} ms`,
      );
      expect(lagMs).toHaveLength(LATENCY_MESSAGES);
    });
  });

  describe('a workflow submitted in eu-west', () => {
    const mesh = new InProcessMesh();
    const euRedis = new RedisFixture();
    const usRedis = new RedisFixture();
    const euEnv = () => ({
      MESH_TRANSPORT: 'pulsar',
      PULSAR_WEB_URL: euWest.webUrl,
      PULSAR_SERVICE_URL: '',
      MESH_REGION: 'eu-west',
    });
    const usEnv = () => ({
      MESH_TRANSPORT: 'pulsar',
      PULSAR_WEB_URL: usEast.webUrl,
      PULSAR_SERVICE_URL: '',
      MESH_REGION: 'us-east',
    });

    afterAll(async () => {
      await mesh.stopAll();
      await euRedis.cleanup();
      await usRedis.cleanup();
    }, 60_000);

    let eu: WorkflowClient;
    let workflowId: string;

    beforeAll(async () => {
      const [euOrchestrator] = await startAgents(mesh, ['orchestrator', 'aggregator', 'worker'], async (role) => ({
        env: euEnv(),
        stateStore: role === 'worker' ? undefined : await euRedis.connect(),
      }));
      eu = new WorkflowClient(euOrchestrator.url, { timeoutMs: 60_000 });
      const done = await eu.run({
        name: 'geo-read',
        step: { kind: 'task', skill: 'keywords', input: { id: 'geo', text: 'homed in eu-west, read in us-east' } },
      });
      expect(done.status).toBe('completed');
      workflowId = done.id;
      await eventually(
        'the workflow’s end replicated to us-east',
        async () => ((await workflowEventsOf(usBus, workflowId)).includes('workflow.completed') ? true : undefined),
        REPLICATION_WAIT_MS,
      );
    }, 180_000);

    it('us-east folds it from its replicated events into the same view (the read-only GET /workflows/:id of a geo set)', async () => {
      const view = await new LogWorkflowReader(usBus, NAMING).read(workflowId);
      expect(view).toEqual(await eu.get(workflowId));
      // an id the log does not have: none
      expect(await new LogWorkflowReader(usBus, NAMING).read('01890000-0000-7000-8000-000000000000')).toBeUndefined();
    }, 60_000);

    it('`mesh replay` against us-east makes it us-east state (what an adoption starts from): the same view', async () => {
      await runReplayCommand({
        workflow: [workflowId],
        allRunning: false,
        env: { ...usEnv(), REDIS_URL: usRedis.url, REDIS_KEY_PREFIX: usRedis.keyPrefix },
      });
      const usOrchestrator = await mesh.start({
        role: 'orchestrator',
        modules: [OrchestratorModule],
        env: usEnv(),
        stateStore: await usRedis.connect(),
      });
      const us = new WorkflowClient(usOrchestrator.url, { timeoutMs: 30_000 });
      expect(await us.get(workflowId)).toEqual(await eu.get(workflowId));
    }, 60_000);
  });

  describe('a region that goes away and comes back', () => {
    const mesh = new InProcessMesh();
    const usRedis = new RedisFixture();
    afterAll(async () => {
      await mesh.stopAll();
      await usRedis.cleanup();
    }, 60_000);

    it('the lag shows the lost direction (not connected, backlog growing); on return it drains and nothing is lost', async () => {
      const short = `geo.away-${randomBytes(4).toString('hex')}`;
      const topic = qualifyTopic(NAMING, short);
      await usBus.publish(topic, { payload: 'before' });
      // us-east's orchestrator in a geo set samples its outgoing replication (/metrics, /health/ready).
      const orchestrator = await mesh.start({
        role: 'orchestrator',
        modules: [OrchestratorModule],
        env: {
          MESH_TRANSPORT: 'pulsar',
          PULSAR_WEB_URL: usEast.webUrl,
          PULSAR_SERVICE_URL: '',
          MESH_REGION: 'us-east',
          MESH_GEO_PEER_WEB_URLS: euWest.webUrl,
          MESH_STATS_MS: '1000',
        },
        stateStore: await usRedis.connect(),
      });
      const sampled = async () => {
        const metrics = await (await fetch(`${orchestrator.url}/metrics`)).text();
        const ready = await fetch(`${orchestrator.url}/health/ready`);
        const body = (await ready.json()) as {
          details?: { geo?: { directions?: { to: string; connected: boolean; backlog: number }[] } };
        };
        return {
          connected: seriesValue(metrics, 'mesh_geo_replication_connected', {
            topic: short,
            from: 'us-east',
            to: 'eu-west',
          }),
          backlog: seriesValue(metrics, 'mesh_geo_replication_backlog', {
            topic: short,
            from: 'us-east',
            to: 'eu-west',
          }),
          readyStatus: ready.status,
          geo: body.details?.geo?.directions?.find((d) => d.to === 'eu-west'),
        };
      };
      const usAdmin = new PulsarAdmin({ webUrl: usEast.webUrl });
      const outgoing = async () =>
        (await replicationLag(usAdmin, NAMING.tenant, NAMING.namespace)).find(
          (row) => row.topic === topic && row.to === 'eu-west',
        );
      await eventually('the topic replicating to eu-west', async () =>
        (await outgoing())?.connected ? true : undefined,
      );

      await euWest.down();
      const whileAway = 30;
      for (let i = 0; i < whileAway; i++) await usBus.publish(topic, { payload: `away ${i}` });
      const away = await eventually(
        'us-east to see eu-west gone',
        async () => {
          const row = await outgoing();
          return row && !row.connected && row.backlog >= whileAway ? row : undefined;
        },
        REPLICATION_WAIT_MS,
      );
      console.log(`geo: eu-west away: us-east → eu-west connected ${away.connected}, backlog ${away.backlog}`);
      // The orchestrator's sample says the same; its region stays ready (the geo section is informational).
      const seenAway = await eventually(
        'the orchestrator to sample eu-west gone',
        async () => {
          const seen = await sampled();
          return seen.connected === 0 && (seen.backlog ?? 0) >= whileAway ? seen : undefined;
        },
        REPLICATION_WAIT_MS,
      );
      expect(seenAway.readyStatus).toBe(200);
      expect(seenAway.geo).toMatchObject({ to: 'eu-west', connected: false });
      expect(seenAway.geo?.backlog).toBeGreaterThanOrEqual(whileAway);

      // pulsar.sh up again on eu-west's data: provisioning keeps us-east among the tenant's clusters
      await euWest.up();
      await eventually(
        'the backlog drained to eu-west',
        async () => {
          const row = await outgoing();
          return row && row.connected && row.backlog === 0 ? true : undefined;
        },
        REPLICATION_WAIT_MS,
      );
      await eventually('the orchestrator to sample the drained direction', async () => {
        const seen = await sampled();
        return seen.connected === 1 && seen.backlog === 0 && seen.geo?.connected ? true : undefined;
      });
      const reader = await euBus.createReader({ topic, startMessageId: 'earliest' });
      const received: string[] = [];
      try {
        for (let m = await reader.readNext(5_000); m; m = await reader.readNext(2_000))
          received.push(m.payload.toString());
      } finally {
        await reader.close();
      }
      expect(received).toEqual(['before', ...Array.from({ length: whileAway }, (_, i) => `away ${i}`)]);
      expect(
        (await new PulsarAdmin({ webUrl: euWest.webUrl }).getTenant(NAMING.tenant)).allowedClusters.sort(),
      ).toEqual(['eu-west', 'us-east']);
    }, 300_000);
  });
});

/** What the bootstrap sets, read back from every cluster. */
async function geoState(webUrls: readonly string[]): Promise<unknown> {
  const state: Record<string, unknown> = {};
  for (const webUrl of webUrls) {
    const admin = new PulsarAdmin({ webUrl });
    const clusters = (await admin.clusters()).sort();
    state[await admin.brokerClusterName()] = {
      clusters: await Promise.all(clusters.map(async (name) => [name, await admin.getCluster(name)])),
      tenant: await admin.getTenant(NAMING.tenant),
      namespaces: await admin.namespaces(NAMING.tenant),
      replication: await admin.getReplicationClusters(NAMING.tenant, NAMING.namespace),
      allowed: await admin.getNamespaceAllowedClusters(NAMING.tenant, NAMING.namespace),
    };
  }
  return state;
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

interface SendReceipt {
  readonly seq: number;
  /** The broker dropped it as a duplicate (it answers without a real message id). */
  readonly duplicate: boolean;
}

/**
 * Publishes `count` messages through Pulsar's WebSocket producer named `producerName`, with the
 * sequence ids `first`, `first + 1`, … (the WebSocket API takes no sequence id per message, only
 * `initialSequenceId` for the producer: the one before its first). Each message carries its
 * origin region and sequence id. The mesh's own driver sets neither: the broker names its
 * producers per cluster.
 */
function publishWithSequenceIds(
  webPort: number,
  topic: string,
  producerName: string,
  seqs: readonly number[],
  region: string,
): Promise<SendReceipt[]> {
  const first = seqs[0];
  const query = `producerName=${producerName}&initialSequenceId=${first - 1}`;
  const url = `ws://127.0.0.1:${webPort}/ws/v2/producer/persistent/${NAMING.tenant}/${NAMING.namespace}/${topic}?${query}`;
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const receipts: SendReceipt[] = [];
    socket.on('open', () => {
      for (const [i, seq] of seqs.entries()) {
        if (seq !== first + i) throw new Error('publishWithSequenceIds: sequence ids must be consecutive');
        socket.send(
          JSON.stringify({
            payload: Buffer.from(`${region}:${seq}`).toString('base64'),
            properties: { origin: region, seq: String(seq) },
            context: String(seq),
          }),
        );
      }
    });
    socket.on('message', (data) => {
      const answer = JSON.parse(String(data)) as {
        result: string;
        messageId?: string;
        context: string;
        errorMsg?: string;
      };
      if (answer.result !== 'ok') {
        socket.close();
        reject(new Error(`send ${answer.context} refused: ${answer.errorMsg ?? answer.result}`));
        return;
      }
      receipts.push({ seq: Number(answer.context), duplicate: isDuplicateReceipt(answer.messageId) });
      if (receipts.length === seqs.length) {
        socket.close();
        resolve(receipts);
      }
    });
    socket.on('error', reject);
  });
}

/** A duplicate's receipt carries ledger and entry -1 (MessageId -1:-1), or no id at all. */
function isDuplicateReceipt(messageId: string | undefined): boolean {
  if (!messageId) return true;
  const bytes = Buffer.from(messageId, 'base64');
  // MessageIdData protobuf: field 1 (ledgerId) and 2 (entryId) varints; -1 encodes as ten bytes of 0xff…0x01.
  return bytes.length > 0 && bytes[1] === 0xff;
}

/** Reads the topic from the start until `expected` messages came, or nothing more comes; their sequence ids by origin. */
async function readOrigins(bus: EventBus, topic: string, expected: number): Promise<Map<string, number[]>> {
  const reader = await bus.createReader({ topic: qualifyTopic(NAMING, topic), startMessageId: 'earliest' });
  const byOrigin = new Map<string, number[]>();
  let count = 0;
  const deadline = Date.now() + REPLICATION_WAIT_MS;
  try {
    while (count < expected && Date.now() < deadline) {
      const message = await reader.readNext(count === 0 ? 5_000 : 10_000);
      if (!message) {
        if (count > 0) break;
        continue;
      }
      const origin = message.properties['origin'] ?? 'unknown';
      byOrigin.set(origin, [...(byOrigin.get(origin) ?? []), Number(message.properties['seq'])]);
      count++;
    }
    // Anything past the expected count would be a duplicate: a short look for it.
    for (let extra = await reader.readNext(1_000); extra; extra = await reader.readNext(1_000)) {
      const origin = extra.properties['origin'] ?? 'unknown';
      byOrigin.set(origin, [...(byOrigin.get(origin) ?? []), Number(extra.properties['seq'])]);
    }
  } finally {
    await reader.close();
  }
  return byOrigin;
}

async function readUntil(
  reader: Awaited<ReturnType<EventBus['createReader']>>,
  match: (message: { payload: Buffer }) => boolean,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const message = await reader.readNext(1_000);
    if (message && match(message)) return message;
  }
  throw new Error(`no matching message within ${timeoutMs} ms`);
}

/** The types of the workflow's events on workflow.events, as the bus in one region reads them. */
async function workflowEventsOf(bus: EventBus, workflowId: string): Promise<string[]> {
  const reader = await bus.createReader({
    topic: qualifyTopic(NAMING, Topics.workflowEvents),
    startMessageId: 'earliest',
  });
  const types: string[] = [];
  try {
    for (let message = await reader.readNext(2_000); message; message = await reader.readNext(2_000)) {
      const envelope = JSON.parse(message.payload.toString()) as { type?: string; correlationId?: string };
      if (envelope.correlationId === workflowId && envelope.type) types.push(envelope.type);
    }
  } finally {
    await reader.close();
  }
  return types;
}
