import { Logger } from '@nestjs/common';
import { MemoryBroker, PulsarWsEventBus, type EventBus } from '@agent-mesh/bus';
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
  if (!config.pulsarWebUrl) {
    throw new Error('MESH_TRANSPORT=pulsar: the native driver is not available, so PULSAR_WEB_URL is needed for the WebSocket driver');
  }
  log.log(`MESH_TRANSPORT=pulsar: pulsar-ws driver (WebSocket API at ${config.pulsarWebUrl})`);
  return new PulsarWsEventBus({ webUrl: config.pulsarWebUrl, token: config.pulsarToken });
}
