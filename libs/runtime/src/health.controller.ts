import { Controller, Get, HttpException, HttpStatus, Inject, Optional } from '@nestjs/common';
import type { BusConnectionStatus } from '@agent-mesh/bus';
import { BrokerStatsSampler, type GeoReplicationView } from '@agent-mesh/metrics';
import { MESH_TRANSPORT_OPTIONS, type MeshTransportOptions } from '@agent-mesh/nest-pulsar';
import type { StateStore } from '@agent-mesh/state';
import type { MeshConfig } from './mesh-config';
import { MESH_CONFIG, STATE_STORE } from './tokens';
import { MESH_ROLE } from './role';

export interface HealthReport {
  readonly status: 'ok' | 'unavailable';
  readonly role: string;
  readonly instance: string;
  readonly region: string;
  readonly transport: string;
  readonly state: { readonly driver: string; readonly ok: boolean };
  /** The bus driver and its connection status (what the mesh transport server reports as its `status`). */
  readonly bus: { readonly driver: string; readonly status: BusConnectionStatus };
  /** In a geo set, on the sampling role: replication toward each peer. Informational: it never makes the status unavailable. */
  readonly geo?: GeoReplicationView;
}

@Controller('health')
export class HealthController {
  constructor(
    @Inject(MESH_CONFIG) private readonly config: MeshConfig,
    @Inject(MESH_ROLE) private readonly role: string,
    @Inject(STATE_STORE) private readonly state: StateStore,
    @Inject(MESH_TRANSPORT_OPTIONS) private readonly transport: MeshTransportOptions,
    @Optional() @Inject(BrokerStatsSampler) private readonly sampler?: BrokerStatsSampler,
  ) {}

  /** 200 when the agent can do its work, 503 (same body) when a dependency (state store, bus) is down. */
  @Get()
  async health(): Promise<HealthReport> {
    const stateOk = await this.state.ping().catch(() => false);
    const { bus } = this.transport;
    const busStatus = bus.connectionStatus;
    const report: HealthReport = {
      status: stateOk && busStatus === 'connected' ? 'ok' : 'unavailable',
      role: this.role,
      instance: this.config.instanceId,
      region: this.config.region,
      transport: bus.driver,
      state: { driver: this.state.driver, ok: stateOk },
      bus: { driver: bus.driver, status: busStatus },
      geo: this.sampler?.replication(),
    };
    if (report.status !== 'ok') throw new HttpException(report, HttpStatus.SERVICE_UNAVAILABLE);
    return report;
  }
}
