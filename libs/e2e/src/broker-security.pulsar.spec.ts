import { readFileSync, statSync } from 'node:fs';
import { PulsarWsEventBus, UpgradeRefusedError } from '@agent-mesh/bus';
import { describeWithPulsar } from '@agent-mesh/bus/testing';
import { PulsarAdmin } from '@agent-mesh/pulsar-admin';
import {
  InProcessMesh,
  PulsarBrokerFixture,
  startAgents,
  WORKFLOW_ROLES,
  WorkflowClient,
  type AgentProcess,
} from '@agent-mesh/testing';

/**
 * Broker security (`pulsar.sh up --auth --tls`): one broker of the suite's own with token
 * authentication and authorization, serving plain (ws://, http://) and TLS (wss://, https://)
 * ports. The mesh completes a workflow with the mesh role's token on either; a client without a
 * token, or whose role was granted nothing, is refused at once with an error saying so.
 */

const TOPIC = 'persistent://agentmesh/mesh/security.probe';

interface WorkflowBody {
  readonly id: string;
  readonly status: string;
  readonly branches: readonly { readonly output?: Record<string, unknown> }[];
}

describeWithPulsar('broker security: token authentication, authorization and TLS (own broker)', () => {
  // The ports assigned to this suite; no other suite uses them.
  const broker = new PulsarBrokerFixture({
    clusterName: 'security-test',
    webPort: 8180,
    brokerPort: 6750,
    bookiePort: 3281,
    auth: true,
    tls: { webPort: 8643, brokerPort: 6751 },
  });
  const meshes: InProcessMesh[] = [];
  const tokenOf = (role: string): string => readFileSync(broker.tokenFile(role), 'utf8').trim();

  /** The five roles' workflow processes on the broker, each its own bus client, configured by env. */
  const startMesh = async (env: Record<string, string>): Promise<AgentProcess[]> => {
    const mesh = new InProcessMesh();
    meshes.push(mesh);
    return startAgents(mesh, WORKFLOW_ROLES, () => ({
      env: { MESH_TRANSPORT: 'pulsar', PULSAR_TENANT: 'agentmesh', PULSAR_NAMESPACE: 'mesh', ...env },
    }));
  };

  const completeWorkflow = async (orchestrator: AgentProcess, text: string): Promise<WorkflowBody> => {
    const client = new WorkflowClient(orchestrator.url, { timeoutMs: 60_000 });
    const { status, json } = await client.post({ skill: 'keywords', inputs: [{ id: 'doc', text }] });
    expect(status).toBe(202);
    return client.finished<WorkflowBody>(String(json['workflowId']));
  };

  beforeAll(async () => {
    await broker.start();
  }, 240_000);

  afterAll(async () => {
    for (const mesh of meshes) await mesh.stopAll().catch(() => undefined);
    await broker.dispose();
  }, 120_000);

  it('writes the tokens and the CA key 0600, and answers 401 to the admin API without a token', async () => {
    for (const file of [broker.tokenFile('admin'), broker.tokenFile('mesh')]) {
      expect(readFileSync(file, 'utf8').trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    }
    expect(statSync(broker.tokenFile('mesh')).mode & 0o777).toBe(0o600);
    expect(statSync(broker.caFile.replace(/ca\.crt$/, 'ca.key')).mode & 0o777).toBe(0o600);
    const anonymous = new PulsarAdmin({ webUrl: broker.webUrl });
    await expect(anonymous.namespaces('agentmesh')).rejects.toThrow(/401/);
  });

  it('runs a workflow on the plain port with the mesh role’s token (PULSAR_TOKEN_FILE)', async () => {
    const [orchestrator] = await startMesh({
      PULSAR_WEB_URL: broker.webUrl,
      PULSAR_TOKEN_FILE: broker.tokenFile('mesh'),
    });
    expect(orchestrator.transport.bus.driver).toBe('pulsar-ws');
    const workflow = await completeWorkflow(
      orchestrator,
      'Tokens guard the broker; the mesh role may produce and consume.',
    );
    expect(workflow.status).toBe('completed');
    expect(workflow.branches[0].output).toBeDefined();
    for (const mesh of meshes.splice(0)) await mesh.stopAll();

    // The mesh role reads what `mesh` (libs/cli) reads, a subscription's backlog; namespace policies stay the admin's.
    const meshAdmin = new PulsarAdmin({ webUrl: broker.webUrl, token: tokenOf('mesh') });
    const workflowEvents = 'persistent://agentmesh/mesh/workflow.events';
    const { subscriptions } = await meshAdmin.topicStats(workflowEvents);
    // A durable one: a stopped reader's non-durable subscription vanishes between two stats calls.
    const [subscription] = Object.entries(subscriptions)
      .filter(([, stats]) => stats.isDurable)
      .map(([name]) => name);
    expect(await meshAdmin.backlog(workflowEvents, subscription)).toBeGreaterThanOrEqual(0);
    await expect(meshAdmin.setRetention('agentmesh', 'mesh', { minutes: 1, sizeMB: 1 })).rejects.toThrow(/403|401/);
  }, 120_000);

  it('stops an agent without a token at start-up with the 401, instead of hanging', async () => {
    await expect(startMesh({ PULSAR_WEB_URL: broker.webUrl })).rejects.toThrow(/HTTP 401 \(authentication failed/);
  }, 60_000);

  it('refuses a client without a token at once, with 401 and what to set', async () => {
    const bus = new PulsarWsEventBus({ webUrl: broker.webUrl, connectTimeoutMs: 10_000 });
    try {
      const publishing = bus.publish(TOPIC, { payload: 'anonymous' });
      await expect(publishing).rejects.toBeInstanceOf(UpgradeRefusedError);
      await expect(publishing).rejects.toThrow(
        /HTTP 401 \(authentication failed: set PULSAR_TOKEN or PULSAR_TOKEN_FILE/,
      );
      await expect(
        bus.subscribe({ topic: TOPIC, subscription: 'anonymous', type: 'Shared' }, () => undefined),
      ).rejects.toThrow(/HTTP 401/);
    } finally {
      await bus.close();
    }
  });

  it('refuses a role that was granted nothing on the namespace, with 403', async () => {
    const outsider = readFileSync(await broker.issueToken('outsider'), 'utf8').trim();
    const bus = new PulsarWsEventBus({ webUrl: broker.webUrl, token: outsider });
    try {
      await expect(bus.publish(TOPIC, { payload: 'outsider' })).rejects.toThrow(
        /HTTP 403 \(the token's role has no permission/,
      );
      await expect(
        bus.subscribe({ topic: TOPIC, subscription: 'outsider', type: 'Shared' }, () => undefined),
      ).rejects.toThrow(/HTTP 403/);
    } finally {
      await bus.close();
    }
  }, 60_000);

  it('runs a workflow over TLS (wss://, https:// admin) with PULSAR_TLS_CA_FILE', async () => {
    const [orchestrator] = await startMesh({
      PULSAR_WEB_URL: broker.webUrlTls,
      PULSAR_TOKEN_FILE: broker.tokenFile('mesh'),
      PULSAR_TLS_CA_FILE: broker.caFile,
    });
    expect(orchestrator.transport.bus.driver).toBe('pulsar-ws');
    const workflow = await completeWorkflow(
      orchestrator,
      'Over TLS the same workflow completes, the broker proven by its CA.',
    );
    expect(workflow.status).toBe('completed');

    // A reader asks the admin API (https) for the topic's last message id.
    const bus = new PulsarWsEventBus({
      webUrl: broker.webUrlTls,
      token: tokenOf('mesh'),
      tlsCaFile: broker.caFile,
    });
    try {
      const id = await bus.publish(TOPIC, { payload: 'over tls' });
      const reader = await bus.createReader({ topic: TOPIC, startMessageId: 'earliest' });
      expect(await reader.hasMessageAvailable()).toBe(true);
      let last;
      while (await reader.hasMessageAvailable()) last = await reader.readNext(5000);
      expect(last?.messageId).toBe(id);
      await reader.close();
    } finally {
      await bus.close();
    }
    const admin = new PulsarAdmin({
      webUrl: broker.webUrlTls,
      token: tokenOf('admin'),
      tlsCaFile: broker.caFile,
    });
    expect(await admin.health()).toBe(true);
  }, 120_000);

  it('refuses the TLS port to a client that does not trust the broker’s CA, naming the certificate problem', async () => {
    const bus = new PulsarWsEventBus({
      webUrl: broker.webUrlTls,
      token: tokenOf('mesh'),
    });
    try {
      await expect(bus.publish(TOPIC, { payload: 'untrusted' })).rejects.toThrow(/certificate/);
    } finally {
      await bus.close();
    }
  });
});
