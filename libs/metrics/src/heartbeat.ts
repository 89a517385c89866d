import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { AgentHeartbeatV1, describeError, Topics, type AgentHeartbeat } from '@agent-mesh/contracts';
import { MeshPublisher, MeshTransportServer, nextTraceparent } from '@agent-mesh/nest-pulsar';
import { AgentCounters } from './agent-counters';
import { MESH_METRICS_OPTIONS, type MeshMetricsOptions } from './options';
import { Ticker } from './ticker';

/**
 * Publishes this agent's heartbeat on `mesh.agents` (key = agent id) at start and every
 * MESH_HEARTBEAT_MS: who it is and what it has handled. Consumers read the topic from its
 * latest message (a Reader), so nothing keeps a backlog of heartbeats.
 */
@Injectable()
export class HeartbeatPublisher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('Heartbeat');
  private readonly startedAt = new Date().toISOString();
  private readonly ticker: Ticker;

  constructor(
    @Inject(MESH_METRICS_OPTIONS) private readonly options: MeshMetricsOptions,
    private readonly publisher: MeshPublisher,
    private readonly server: MeshTransportServer,
    private readonly counters: AgentCounters,
  ) {
    this.ticker = new Ticker(
      options.heartbeatMs,
      () => this.publish(),
      (error, failing) => {
        if (!failing)
          this.log.warn(`heartbeat not published: ${describeError(error)} (said once until it works again)`);
      },
    );
  }

  get agentId(): string {
    return `${this.options.role}@${this.options.instanceId}`;
  }

  onApplicationBootstrap(): void {
    this.ticker.start();
  }

  beforeApplicationShutdown(): void {
    this.ticker.stop();
  }

  /** This agent's heartbeat now. */
  heartbeat(): AgentHeartbeat {
    const { role, region, skills } = this.options;
    return {
      agentId: this.agentId,
      role,
      region,
      pid: process.pid,
      startedAt: this.startedAt,
      at: new Date().toISOString(),
      counters: this.counters.counters(this.server.inFlightCount),
      byType: this.counters.byType(),
      ...(skills ? { skills: [...skills] } : {}),
    };
  }

  /** Publishes this agent's heartbeat now. */
  async publish(): Promise<void> {
    await this.publisher.publish(Topics.agents, AgentHeartbeatV1, this.heartbeat(), {
      correlationId: this.agentId,
      key: this.agentId,
      // A traceparent of its own: a heartbeat is no one's trace, and the publish opens no span.
      traceparent: nextTraceparent(),
    });
  }
}
