import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { MemoryEventBus } from '@agent-mesh/bus';
import { BrokerStatsV1, describeError, Topics, type BrokerStats } from '@agent-mesh/contracts';
import {
  MESH_TRANSPORT_OPTIONS,
  MeshPublisher,
  nextTraceparent,
  type MeshTransportOptions,
} from '@agent-mesh/nest-pulsar';
import { PulsarAdmin, replicationLag, type ReplicationLag } from '@agent-mesh/pulsar-admin';
import {
  limitObservabilityRetention,
  MemoryStatsSource,
  PulsarStatsSource,
  sampleBroker,
  type BrokerStatsSource,
} from './broker-stats';
import { MeshMetrics } from './mesh-metrics';
import { MESH_METRICS_OPTIONS, type MeshMetricsOptions } from './options';
import { Ticker } from './ticker';

/** Geo-replication out of this region toward one peer, summed over the namespace's topics. */
export interface GeoReplicationDirection {
  readonly from: string;
  readonly to: string;
  /** Messages not yet sent, all topics. */
  readonly backlog: number;
  /** Age of the oldest message not yet sent, the worst topic. */
  readonly delaySeconds: number;
  /** Whether every topic's replicator reaches the peer. */
  readonly connected: boolean;
  readonly topics: number;
}

/** The last geo-replication sample, as `/health` shows it (informational: it never makes a region unready). */
export interface GeoReplicationView {
  /** When it was sampled (ISO time); absent before the first sample. */
  readonly at?: string;
  readonly directions: readonly GeoReplicationDirection[];
  /** Why the last sample failed (the admin API did not answer): the figures are from the one before. */
  readonly error?: string;
}

/** Sums the rows of each direction. */
export function replicationDirections(rows: readonly ReplicationLag[]): GeoReplicationDirection[] {
  const byDirection = new Map<string, GeoReplicationDirection>();
  for (const row of rows) {
    const key = `${row.from}→${row.to}`;
    const seen = byDirection.get(key);
    byDirection.set(key, {
      from: row.from,
      to: row.to,
      backlog: (seen?.backlog ?? 0) + row.backlog,
      delaySeconds: Math.max(seen?.delaySeconds ?? 0, row.delaySeconds),
      connected: (seen?.connected ?? true) && row.connected,
      topics: (seen?.topics ?? 0) + 1,
    });
  }
  return [...byDirection.values()].sort((a, b) => a.to.localeCompare(b.to));
}

/**
 * In the sampling role (the orchestrator), every MESH_STATS_MS: the broker's backlog per
 * subscription and the dead letters waiting, into this process's gauges and onto `mesh.stats`.
 * On Pulsar they come from the admin API; on the memory bus from the in-process broker; with
 * neither (a bus of another kind), nothing is sampled. In a geo set (options.geoReplication) it
 * also samples geo-replication out of this region's cluster (replicationLag: backlog, delay and
 * connection per topic and peer) into the `mesh_geo_replication_*` gauges and `replication()`,
 * which `/health` shows; the peers' own directions are sampled by their regions.
 */
@Injectable()
export class BrokerStatsSampler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('BrokerStats');
  private readonly source?: BrokerStatsSource;
  private readonly ticker: Ticker;
  private readonly admin?: PulsarAdmin;
  private lastReplication?: GeoReplicationView;

  constructor(
    @Inject(MESH_METRICS_OPTIONS) private readonly options: MeshMetricsOptions,
    @Inject(MESH_TRANSPORT_OPTIONS) transport: MeshTransportOptions,
    private readonly publisher: MeshPublisher,
    private readonly metrics: MeshMetrics,
  ) {
    this.source = statsSource(options, transport);
    if (options.geoReplication && options.pulsarAdmin && options.statsMs > 0) {
      this.admin = new PulsarAdmin(options.pulsarAdmin);
      this.lastReplication = { directions: [] };
    }
    const period = this.source ? options.statsMs : 0;
    this.ticker = new Ticker(
      period,
      async () => {
        await this.sampleReplication(); // never throws: a failure is kept in the view
        await this.sampleAndPublish();
      },
      (error, failing) => {
        if (!failing) this.log.warn(`broker not sampled: ${describeError(error)} (said once until it works again)`);
      },
    );
  }

  onApplicationBootstrap(): void {
    this.ticker.start();
    const { pulsarAdmin, statsMs, naming } = this.options;
    if (pulsarAdmin && statsMs > 0) {
      // Not awaited: start-up does not wait for the admin API; a broker without topic policies only loses the bound.
      limitObservabilityRetention(new PulsarAdmin(pulsarAdmin), naming).catch((error: unknown) =>
        this.log.warn(`mesh.agents and mesh.stats keep what the namespace keeps: ${describeError(error)}`),
      );
    }
  }

  beforeApplicationShutdown(): void {
    this.ticker.stop();
  }

  /** One sample: gauges set, `broker.stats` published; undefined where this process cannot sample. */
  async sampleAndPublish(): Promise<BrokerStats | undefined> {
    if (!this.source) return undefined;
    const stats = await sampleBroker(this.source);
    this.metrics.brokerSampled(stats);
    await this.publisher.publish(Topics.stats, BrokerStatsV1, stats, {
      correlationId: `${this.options.role}@${this.options.instanceId}`,
      key: 'broker',
      traceparent: nextTraceparent(), // as heartbeats: no trace, no span of a publish
    });
    return stats;
  }

  /** The last geo-replication sample; undefined where this process does not sample it (not in a geo set, not the sampling role). */
  replication(): GeoReplicationView | undefined {
    return this.lastReplication;
  }

  /** One geo-replication sample into the gauges and `replication()`; a failure is kept (and logged once), not thrown. */
  async sampleReplication(): Promise<GeoReplicationView | undefined> {
    if (!this.admin || this.options.statsMs <= 0) return undefined;
    const { tenant, namespace } = this.options.naming;
    try {
      const rows = await replicationLag(this.admin, tenant, namespace);
      this.metrics.replicationSampled(rows);
      this.lastReplication = { at: new Date().toISOString(), directions: replicationDirections(rows) };
    } catch (error) {
      if (!this.lastReplication?.error) this.log.warn(`geo-replication not sampled: ${describeError(error)}`);
      this.lastReplication = {
        ...this.lastReplication,
        directions: this.lastReplication?.directions ?? [],
        error: describeError(error),
      };
    }
    return this.lastReplication;
  }
}

function statsSource(options: MeshMetricsOptions, transport: MeshTransportOptions): BrokerStatsSource | undefined {
  if (options.pulsarAdmin) return new PulsarStatsSource(new PulsarAdmin(options.pulsarAdmin), options.naming);
  if (transport.bus instanceof MemoryEventBus) return new MemoryStatsSource(transport.bus, options.naming);
  return undefined;
}
