import { Controller, Get, Inject, Optional } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService, type HealthCheckResult } from '@nestjs/terminus';
import { BrokerStatsSampler } from '@agent-mesh/metrics';
import { MESH_TRANSPORT_OPTIONS, type MeshTransportOptions } from '@agent-mesh/nest-pulsar';
import type { StateStore } from '@agent-mesh/state';
import { STATE_STORE } from './tokens';

/** A state store that does not answer PING within this long counts as down. */
const STATE_PING_TIMEOUT_MS = 2_000;

/**
 * Kubernetes-style probes (@nestjs/terminus): `/health/live` answers 200 while the process
 * serves HTTP at all; `/health/ready` answers 200 while the bus is connected and the state
 * store answers PING, 503 (saying which is down) otherwise — and 200 again by itself once they
 * are back, since the bus and Redis clients reconnect on their own. In a geo set the sampling
 * role's readiness also shows `geo`: replication toward each peer (backlog, delay, connected) —
 * always up, informational: a lost peer must not make the surviving region unready.
 */
@Controller('health')
export class ProbesController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(STATE_STORE) private readonly state: StateStore,
    @Inject(MESH_TRANSPORT_OPTIONS) private readonly transport: MeshTransportOptions,
    @Optional() @Inject(BrokerStatsSampler) private readonly sampler?: BrokerStatsSampler,
  ) {}

  @Get('live')
  live(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.indicators.check('process').up({ pid: process.pid, uptimeSeconds: Math.round(process.uptime()) }),
    ]);
  }

  @Get('ready')
  ready(): Promise<HealthCheckResult> {
    const geo = this.sampler?.replication();
    return this.health.check([
      () => this.bus(),
      () => this.stateStore(),
      ...(geo ? [() => this.indicators.check('geo').up({ ...geo })] : []),
    ]);
  }

  private bus() {
    const { driver, connectionStatus: status } = this.transport.bus;
    const bus = this.indicators.check('bus');
    return status === 'connected' ? bus.up({ driver, connection: status }) : bus.down({ driver, connection: status });
  }

  private stateStore() {
    const { driver } = this.state;
    return this.indicators
      .check('state')
      .attempt(async () => {
        if (!(await this.state.ping())) throw new Error(`${driver} store does not answer PING`);
        return { driver };
      })
      .withTimeout(STATE_PING_TIMEOUT_MS);
  }
}
