import {
  Injectable,
  Module,
  type DynamicModule,
  type InjectionToken,
  type OnModuleDestroy,
  type OnModuleInit,
  type OptionalFactoryDependency,
} from '@nestjs/common';
import { MeshObservers, MeshTransportServer } from '@agent-mesh/nest-pulsar';
import { AgentCounters } from './agent-counters';
import { BrokerStatsSampler } from './broker-stats.sampler';
import { HeartbeatPublisher } from './heartbeat';
import { MeshMetrics } from './mesh-metrics';
import { MetricsController } from './metrics.controller';
import { MESH_METRICS_OPTIONS, type MeshMetricsOptions } from './options';

/** Feeds what the transport does into the metrics and the heartbeat's counters. */
@Injectable()
class TransportObservation implements OnModuleInit, OnModuleDestroy {
  private remove?: () => void;

  constructor(
    private readonly observers: MeshObservers,
    private readonly metrics: MeshMetrics,
    private readonly counters: AgentCounters,
  ) {}

  onModuleInit(): void {
    this.remove = this.observers.add({
      messageSettled: (message) => {
        this.metrics.messageSettled(message);
        this.counters.messageSettled(message);
      },
      published: (event) => this.metrics.published(event),
    });
  }

  onModuleDestroy(): void {
    this.remove?.();
  }
}

export interface MeshMetricsModuleAsyncOptions {
  readonly inject?: (InjectionToken | OptionalFactoryDependency)[];
  readonly useFactory: (...args: never[]) => MeshMetricsOptions;
}

/**
 * `/metrics` (Prometheus), the agent's heartbeat on `mesh.agents` and, in the sampling role,
 * broker stats on `mesh.stats`. Needs MeshTransportModule. MeshMetrics is global, so agents
 * record their own series (skills, workflows) through it.
 */
@Module({})
export class MeshMetricsModule {
  static forRootAsync(options: MeshMetricsModuleAsyncOptions): DynamicModule {
    return {
      module: MeshMetricsModule,
      global: true,
      controllers: [MetricsController],
      providers: [
        { provide: MESH_METRICS_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] },
        {
          provide: MeshMetrics,
          inject: [MESH_METRICS_OPTIONS, MeshTransportServer],
          useFactory: (o: MeshMetricsOptions, server: MeshTransportServer) =>
            new MeshMetrics(() => server.inFlightCount, {
              role: o.role,
              agent: `${o.role}@${o.instanceId}`,
              region: o.region,
            }),
        },
        { provide: AgentCounters, useFactory: () => new AgentCounters() },
        TransportObservation,
        HeartbeatPublisher,
        BrokerStatsSampler,
      ],
      exports: [MeshMetrics, HeartbeatPublisher, BrokerStatsSampler],
    };
  }
}
