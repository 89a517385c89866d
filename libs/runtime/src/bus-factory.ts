import { Logger } from '@nestjs/common';
import { loadPulsarClient, MemoryBroker, PulsarNativeEventBus, PulsarWsEventBus, type EventBus } from '@agent-mesh/bus';
import { redactCredentials } from '@agent-mesh/contracts';
import type { MeshConfig } from './mesh-config';

/** The broker shared by every agent module of an embedded (single-process) mesh. */
let processBroker: MemoryBroker | undefined;

export function processMemoryBroker(): MemoryBroker {
  processBroker ??= new MemoryBroker();
  return processBroker;
}

/** Connects the EventBus the configuration asks for, and logs which driver it is. */
export async function connectEventBus(config: MeshConfig, broker?: MemoryBroker): Promise<EventBus> {
  const log = new Logger('EventBus');
  if (config.transport === 'memory') {
    log.log('MESH_TRANSPORT=memory: in-process bus (agents in this process only)');
    return (broker ?? processMemoryBroker()).connect();
  }
  // The native client is the fast path; the WebSocket driver runs wherever Node runs.
  const native = loadPulsarClient();
  if (native.ok && config.pulsarServiceUrl) {
    log.log(
      `MESH_TRANSPORT=pulsar: pulsar-native driver (pulsar-client, ${redactCredentials(config.pulsarServiceUrl)})`,
    );
    return PulsarNativeEventBus.create({
      serviceUrl: config.pulsarServiceUrl,
      token: config.pulsarToken,
      tlsCaFile: config.pulsarTlsCaFile,
      producerIdleMs: config.pulsarProducerIdleMs,
    });
  }
  const why = native.ok
    ? 'PULSAR_SERVICE_URL is not set'
    : `pulsar-client is not loadable: ${native.reason.split('\n')[0]}`;
  if (!config.pulsarWebUrl) {
    throw new Error(
      `MESH_TRANSPORT=pulsar: the native driver cannot be used (${why}) and PULSAR_WEB_URL is not set for the WebSocket driver`,
    );
  }
  log.log(
    `MESH_TRANSPORT=pulsar: pulsar-ws driver (WebSocket API at ${redactCredentials(config.pulsarWebUrl)}; native not used: ${why})`,
  );
  return new PulsarWsEventBus({
    webUrl: config.pulsarWebUrl,
    token: config.pulsarToken,
    tlsCaFile: config.pulsarTlsCaFile,
    producerIdleMs: config.pulsarProducerIdleMs,
  });
}
