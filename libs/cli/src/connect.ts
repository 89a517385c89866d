import { loadPulsarClient, PulsarNativeEventBus, PulsarWsEventBus, type EventBus } from '@agent-mesh/bus';
import { PulsarAdmin } from '@agent-mesh/pulsar-admin';
import { validateMeshEnvironment, type MeshConfig } from '@agent-mesh/runtime';
import type { CliContext, CliOutput } from './command';

/**
 * The broker connection `mesh` works with, from the same settings as the agents
 * (MESH_TRANSPORT, PULSAR_WEB_URL, PULSAR_SERVICE_URL, PULSAR_TOKEN(_FILE), PULSAR_TLS_CA_FILE, PULSAR_TENANT,
 * PULSAR_NAMESPACE).
 * Throws a MeshConfigError naming the setting when one is wrong or missing.
 */
export async function connectFromEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  output: CliOutput,
): Promise<CliContext> {
  const config = validateMeshEnvironment({ MESH_TRANSPORT: 'pulsar', ...env });
  if (config.transport !== 'pulsar') {
    throw new Error(
      'mesh works on the broker: MESH_TRANSPORT=memory is one process’s in-memory bus, which no other process can see; ' +
        'set MESH_TRANSPORT=pulsar and PULSAR_WEB_URL',
    );
  }
  const bus = await connectBus(config);
  const admin = config.pulsarWebUrl
    ? new PulsarAdmin({ webUrl: config.pulsarWebUrl, token: config.pulsarToken, tlsCaFile: config.pulsarTlsCaFile })
    : undefined;
  return {
    bus,
    naming: config.naming,
    backlog: admin ? (topic, subscription) => admin.backlog(topic, subscription) : undefined,
    topics: admin ? () => admin.listTopics(config.naming.tenant, config.naming.namespace) : undefined,
    output,
    env,
  };
}

function connectBus(config: MeshConfig): Promise<EventBus> | EventBus {
  const { pulsarToken: token, pulsarTlsCaFile: tlsCaFile } = config;
  if (config.pulsarWebUrl) return new PulsarWsEventBus({ webUrl: config.pulsarWebUrl, token, tlsCaFile });
  const native = loadPulsarClient();
  if (!native.ok || !config.pulsarServiceUrl) {
    throw new Error(
      `PULSAR_WEB_URL is not set and the native client cannot be used (${native.ok ? 'PULSAR_SERVICE_URL is not set' : native.reason.split('\n')[0]}): set PULSAR_WEB_URL`,
    );
  }
  return PulsarNativeEventBus.create({ serviceUrl: config.pulsarServiceUrl, token, tlsCaFile });
}
