import { spawn, type ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import { createServer as createHttpServer } from 'http';
import { createServer, type Server, type Socket } from 'net';
import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import { PulsarAdminError, PulsarUnreachableError } from './errors';
import { PulsarAdmin } from './pulsar-admin';

/** Resolves to the rejection of `promise` (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail, it succeeded');
}

/**
 * A child node process holding a real WebSocket producer (sends `count` messages) and a Shared
 * consumer that receives but never acks them. Node 20 has WebSocket behind --experimental-websocket.
 */
const WS_CLIENTS = `
const { WS_BASE, TOPIC, SUB, COUNT, PRODUCER, CONSUMER } = process.env;
const say = (o) => console.log(JSON.stringify(o));
if (typeof WebSocket === 'undefined') { say({ error: 'no global WebSocket in node ' + process.version }); process.exit(2); }
const n = Number(COUNT);
const path = TOPIC.replace('://', '/');
let received = 0, acked = 0;
const check = () => { if (received === n && acked === n) say({ ready: true }); };
const consumer = new WebSocket(WS_BASE + '/consumer/' + path + '/' + SUB +
  '?subscriptionType=Shared&subscriptionInitialPosition=Earliest&consumerName=' + CONSUMER);
consumer.onerror = (e) => { say({ error: 'consumer: ' + (e.message || e.type) }); process.exit(3); };
consumer.onmessage = () => { received++; check(); };
consumer.onopen = () => {
  const producer = new WebSocket(WS_BASE + '/producer/' + path + '?producerName=' + PRODUCER);
  producer.onerror = (e) => { say({ error: 'producer: ' + (e.message || e.type) }); process.exit(4); };
  producer.onopen = () => {
    for (let i = 0; i < n; i++) producer.send(JSON.stringify({ payload: Buffer.from('m' + i).toString('base64'), context: String(i) }));
  };
  producer.onmessage = (e) => {
    const ack = JSON.parse(e.data);
    if (ack.result !== 'ok') { say({ error: 'send: ' + e.data }); process.exit(5); }
    acked++; check();
  };
};
setInterval(() => {}, 1000);
`;

function startWsClients(env: Record<string, string>): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', '-e', WS_CLIENTS], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(
      () => reject(new Error(`WebSocket clients not ready in 20 s; stdout: ${out} stderr: ${err}`)),
      20_000,
    );
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('"ready":true')) {
        clearTimeout(timer);
        resolve();
      } else if (out.includes('"error"')) {
        clearTimeout(timer);
        reject(new Error(`WebSocket clients failed: ${out}`));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`WebSocket clients exited with ${code}; stdout: ${out} stderr: ${err}`));
    });
  });
  return { child, ready };
}

describeWithPulsar('PulsarAdmin against a real broker', (env) => {
  const admin = new PulsarAdmin({ webUrl: env.webUrl });
  const runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const tenant = env.tenant;
  const namespace = `admin-test-${runId}`;
  const scratchTenant = `admin-test-${runId}`;
  const scratchCluster = `admin-test-${runId}`;
  const topic = (name: string) => `persistent://${tenant}/${namespace}/${name}`;
  let cluster = '';

  beforeAll(async () => {
    await assertPulsarAnswers(env);
    cluster = await admin.brokerClusterName();
  });

  afterAll(async () => {
    // Best effort, in dependency order; each may legitimately 404 when its test did not get that far.
    const quietly = (p: Promise<unknown>) =>
      p.catch((e: unknown) => (e instanceof PulsarAdminError && e.status === 404 ? undefined : e));
    const failures = [
      await quietly(admin.deleteNamespace(tenant, namespace, { force: true })),
      await quietly(admin.deleteTenant(scratchTenant)),
      await quietly(admin.deleteCluster(scratchCluster)),
    ].filter((x) => x !== undefined);
    if (failures.length) throw failures[0];
  });

  it('health() is true', async () => {
    expect(await admin.health()).toBe(true);
  });

  it("clusters() contains the broker's own cluster, getCluster() its URLs", async () => {
    expect(cluster).toBeTruthy();
    expect(await admin.clusters()).toContain(cluster);
    const data = await admin.getCluster(cluster);
    expect(data.serviceUrl).toMatch(/^http/);
    expect(data.brokerServiceUrl).toMatch(/^pulsar:\/\//);
  });

  it('createCluster() creates once, then reports it exists (409)', async () => {
    const urls = { serviceUrl: 'http://127.0.0.1:1', brokerServiceUrl: 'pulsar://127.0.0.1:1' };
    expect(await admin.createCluster(scratchCluster, urls)).toBe(true);
    expect(await admin.createCluster(scratchCluster, urls)).toBe(false);
    expect(await admin.clusters()).toContain(scratchCluster);
    expect(await admin.getCluster(scratchCluster)).toEqual(urls);
  });

  it('ensureTenant() creates, is idempotent, and updates allowedClusters when they differ', async () => {
    expect(await admin.ensureTenant(scratchTenant, { allowedClusters: [cluster] })).toBe('created');
    expect(await admin.ensureTenant(scratchTenant, { allowedClusters: [cluster] })).toBe('unchanged');
    expect(await admin.tenants()).toEqual(expect.arrayContaining([tenant, scratchTenant]));
    expect(await admin.ensureTenant(scratchTenant, { allowedClusters: [scratchCluster, cluster] })).toBe('updated');
    expect((await admin.getTenant(scratchTenant)).allowedClusters.sort()).toEqual([cluster, scratchCluster].sort());
    expect(await admin.ensureTenant(scratchTenant, { allowedClusters: [cluster, scratchCluster] })).toBe('unchanged');
    // The mesh tenant exists already: ensuring it with its own clusters changes nothing.
    const mesh = await admin.getTenant(tenant);
    expect(await admin.ensureTenant(tenant, { allowedClusters: mesh.allowedClusters })).toBe('unchanged');
  });

  it('ensureNamespace() is idempotent; retention, deduplication, replication and TTL are set and read back', async () => {
    expect(await admin.ensureNamespace(tenant, namespace)).toBe('created');
    expect(await admin.ensureNamespace(tenant, namespace)).toBe('unchanged');
    expect(await admin.namespaces(tenant)).toContain(`${tenant}/${namespace}`);
    // Nothing set on the namespace yet: the broker answers 200 with an empty body.
    expect(await admin.getRetention(tenant, namespace)).toBeNull();
    expect(await admin.getDeduplication(tenant, namespace)).toBeNull();
    expect(await admin.getMessageTtl(tenant, namespace)).toBeNull();

    const policies = {
      retention: { minutes: 60, sizeMB: 10 },
      deduplication: true,
      replicationClusters: [cluster],
      messageTtlSeconds: 3600,
    };
    expect(await admin.ensureNamespace(tenant, namespace, policies)).toBe('updated');
    expect(await admin.ensureNamespace(tenant, namespace, policies)).toBe('updated');
    expect(await admin.getRetention(tenant, namespace)).toEqual({ minutes: 60, sizeMB: 10 });
    expect(await admin.getDeduplication(tenant, namespace)).toBe(true);
    expect(await admin.getReplicationClusters(tenant, namespace)).toEqual([cluster]);
    expect(await admin.getMessageTtl(tenant, namespace)).toBe(3600);

    // The REST producer used below fails on deduplicated namespaces (see publishViaRest), so turn it off.
    await admin.ensureNamespace(tenant, namespace, { deduplication: false, retention: { minutes: -1, sizeMB: -1 } });
    expect(await admin.getDeduplication(tenant, namespace)).toBe(false);
    expect(await admin.getRetention(tenant, namespace)).toEqual({ minutes: -1, sizeMB: -1 });
  });

  it('topics: create, list, subscriptions at earliest/latest, backlog after REST-produced messages, skip, unload', async () => {
    const t = topic('backlog');
    expect(await admin.createTopic(t)).toBe(true);
    expect(await admin.createTopic(t)).toBe(false);
    expect(await admin.listTopics(tenant, namespace)).toContain(t);

    expect(await admin.createSubscription(t, 'before', 'latest')).toBe(true);
    expect(await admin.createSubscription(t, 'before', 'latest')).toBe(false);
    const ids = await admin.publishViaRest(t, ['one', { payload: 'two', key: 'k2', properties: { p: '1' } }, 'three']);
    expect(ids).toHaveLength(3);
    expect(ids[0]).toMatch(/^\d+:\d+:-?\d+$/);
    await admin.createSubscription(t, 'late', 'latest');
    await admin.createSubscription(t, 'early', 'earliest');

    expect(await admin.backlog(t, 'before')).toBe(3);
    expect(await admin.backlog(t, 'late')).toBe(0);
    expect(await admin.backlog(t, 'early')).toBe(3);
    expect((await admin.subscriptions(t)).sort()).toEqual(['before', 'early', 'late']);

    const stats = await admin.topicStats(t);
    expect(stats.storageSize).toBeGreaterThan(0);
    expect(stats.publishers).toEqual([]);
    expect(stats.subscriptions['early']).toEqual(
      expect.objectContaining({ msgBacklog: 3, unackedMessages: 0, type: 'None', consumers: [], isDurable: true }),
    );

    await admin.skipMessages(t, 'early', 1);
    expect(await admin.backlog(t, 'early')).toBe(2);
    await admin.unloadTopic(t);
    expect(await admin.backlog(t, 'early')).toBe(2); // cursor positions survive an unload
    await admin.clearBacklog(t, 'before');
    expect(await admin.backlog(t, 'before')).toBe(0);
    await admin.deleteSubscription(t, 'late');
    expect((await admin.subscriptions(t)).sort()).toEqual(['before', 'early']);
  });

  it('topicStats() with a real producer and consumer (WebSocket): counters, publishers, consumers, unacked', async () => {
    const t = topic('live');
    const count = 4;
    const { child, ready } = startWsClients({
      WS_BASE: env.webUrl.replace(/^http/, 'ws') + '/ws/v2',
      TOPIC: t,
      SUB: 'workers',
      COUNT: String(count),
      PRODUCER: `prod-${runId}`,
      CONSUMER: `cons-${runId}`,
    });
    try {
      await ready;
      const stats = await admin.topicStats(t);
      expect(stats.msgInCounter).toBe(count);
      expect(stats.msgOutCounter).toBe(count);
      expect(stats.bytesInCounter).toBeGreaterThan(0);
      expect(stats.publishers).toEqual([
        expect.objectContaining({ producerName: `prod-${runId}`, accessMode: 'Shared' }),
      ]);
      const sub = stats.subscriptions['workers']!;
      expect(sub).toEqual(expect.objectContaining({ type: 'Shared', msgBacklog: count, unackedMessages: count }));
      expect(sub.consumers).toEqual([
        expect.objectContaining({ consumerName: `cons-${runId}`, unackedMessages: count }),
      ]);
      expect(await admin.backlog(t, 'workers')).toBe(count);

      // Connected clients: a plain delete is refused, force disconnects them and deletes.
      const refused = await rejection(admin.deleteTopic(t));
      expect(refused).toBeInstanceOf(PulsarAdminError);
      expect((refused as PulsarAdminError).status).toBe(412);
      await admin.deleteTopic(t, { force: true });
      expect(await admin.listTopics(tenant, namespace)).not.toContain(t);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('schemas: registerSchemas sets BACKWARD and registers; get, compatibility, a refusal naming the topic, delete', async () => {
    const record = (fields: object[]) => ({ type: 'record', name: 'Probe', namespace: 'agentmesh', fields });
    const v1 = { type: 'JSON' as const, schema: record([{ name: 'n', type: 'long' }]) };
    const optional = {
      type: 'JSON' as const,
      schema: record([
        { name: 'n', type: 'long' },
        { name: 'note', type: ['null', 'string'], default: null },
      ]),
    };
    const required = {
      type: 'JSON' as const,
      schema: record([
        { name: 'n', type: 'long' },
        { name: 'm', type: 'long' },
      ]),
    };
    const t = topic('schema-probe');
    expect(await admin.getSchema(t)).toBeNull();
    expect(await admin.registerSchemas(tenant, namespace, [{ topic: 'schema-probe', schema: v1 }])).toEqual({
      'schema-probe': 0,
    });
    expect(await admin.getSchemaCompatibilityStrategy(tenant, namespace)).toBe('BACKWARD');
    expect(await admin.getSchemaValidationEnforced(tenant, namespace)).toBe(false);
    expect(await admin.getSchema(t)).toEqual({ version: 0, type: 'JSON', schema: v1.schema });
    expect(await admin.uploadSchema(t, v1)).toBe(0); // the same schema keeps its version
    expect(await admin.checkSchemaCompatibility(t, optional)).toEqual({ compatible: true, strategy: 'BACKWARD' });
    expect(await admin.checkSchemaCompatibility(t, required)).toMatchObject({
      compatible: false,
      reason: expect.stringMatching(/BACKWARD/),
    });
    const refused = await rejection(
      admin.registerSchemas(tenant, namespace, [{ topic: 'schema-probe', schema: required }]),
    );
    expect(refused).toBeInstanceOf(PulsarAdminError);
    expect((refused as PulsarAdminError).reason).toMatch(/^schema of schema-probe: /);
    await admin.deleteSchema(t);
    expect(await admin.getSchema(t)).toBeNull();
  });

  it('errors carry status, method, path and the broker reason', async () => {
    const missing = topic('no-such-topic');
    const statsError = await rejection(admin.topicStats(missing));
    expect(statsError).toBeInstanceOf(PulsarAdminError);
    expect(statsError).toMatchObject({
      status: 404,
      method: 'GET',
      path: `/admin/v2/persistent/${tenant}/${namespace}/no-such-topic/stats`,
      reason: `Topic ${missing} not found`,
    });
    expect((statsError as Error).message).toContain(`404 — Topic ${missing} not found`);

    expect(await rejection(admin.backlog(topic('backlog'), 'nobody'))).toMatchObject({
      status: 404,
      reason: expect.stringContaining('nobody'),
    });
    expect(await rejection(admin.setReplicationClusters(tenant, namespace, ['no-such-cluster']))).toMatchObject({
      status: 403,
      method: 'POST',
      reason: 'Invalid cluster id: no-such-cluster',
    });
    expect(await rejection(admin.getTenant(`missing-${runId}`))).toMatchObject({
      status: 404,
      reason: 'Tenant does not exist',
    });
    expect(await rejection(admin.deleteNamespace(tenant, namespace))).toMatchObject({
      status: 409,
      method: 'DELETE',
      reason: 'Cannot delete non empty namespace',
    });
    expect(((await rejection(admin.topicStats('my-topic'))) as Error).message).toMatch(
      /Invalid topic name "my-topic": not fully qualified/,
    );
  });

  it('deleteNamespace({ force }) deletes the topics first, then the namespace', async () => {
    const ns = `${namespace}-del`;
    await admin.ensureNamespace(tenant, ns);
    await admin.createTopic(`persistent://${tenant}/${ns}/a`);
    await admin.createSubscription(`persistent://${tenant}/${ns}/a`, 's', 'earliest');
    await admin.deleteNamespace(tenant, ns, { force: true });
    expect(await admin.namespaces(tenant)).not.toContain(`${tenant}/${ns}`);
  });
});

describe('PulsarAdmin without a broker', () => {
  it('says the URL is unreachable when nothing listens', async () => {
    // A port that was free a moment ago (fetch refuses "bad ports" such as 1 before connecting).
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const address = probe.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    await new Promise((resolve) => probe.close(resolve));

    const admin = new PulsarAdmin({ webUrl: `http://127.0.0.1:${port}/` });
    const error = await rejection(admin.clusters());
    expect(error).toBeInstanceOf(PulsarUnreachableError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^Pulsar admin URL http://127\\.0\\.0\\.1:${port} is unreachable \\(GET /admin/v2/clusters\\): ECONNREFUSED`,
      ),
    );
    expect(error).toMatchObject({ url: `http://127.0.0.1:${port}`, method: 'GET', path: '/admin/v2/clusters' });
  });

  describe('with a server that accepts and never answers', () => {
    let server: Server;
    const sockets: Socket[] = [];
    let port = 0;
    beforeAll(async () => {
      server = createServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      port = typeof address === 'object' && address ? address.port : 0;
    });
    afterAll(async () => {
      sockets.forEach((s) => s.destroy());
      await new Promise((resolve) => server.close(resolve));
    });

    it('times out after timeoutMs as unreachable', async () => {
      const admin = new PulsarAdmin({ webUrl: `http://127.0.0.1:${port}`, timeoutMs: 200 });
      const started = Date.now();
      const error = await rejection(admin.health());
      expect(error).toBeInstanceOf(PulsarUnreachableError);
      expect((error as Error).message).toContain(
        `http://127.0.0.1:${port} is unreachable (GET /admin/v2/brokers/health): no answer within 200 ms`,
      );
      expect(Date.now() - started).toBeLessThan(5000);
    });
  });

  it('sends the token as a Bearer header (and none without a token)', async () => {
    const seen: Array<string | undefined> = [];
    const server = createHttpServer((req, res) => {
      seen.push(req.headers.authorization);
      res.setHeader('content-type', 'application/json');
      res.end('["c1"]');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = server.address();
      const webUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      expect(await new PulsarAdmin({ webUrl, token: 'secret-jwt' }).clusters()).toEqual(['c1']);
      expect(await new PulsarAdmin({ webUrl }).clusters()).toEqual(['c1']);
      expect(seen).toEqual(['Bearer secret-jwt', undefined]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('rejects a webUrl that is not http(s)', () => {
    expect(() => new PulsarAdmin({ webUrl: 'pulsar://127.0.0.1:6650' })).toThrow(/must be an http\(s\) URL/);
  });
});
