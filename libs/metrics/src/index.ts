/**
 * What an operator watches: Prometheus metrics (`/metrics`), agent heartbeats (`mesh.agents`) and
 * broker stats (`mesh.stats`). Start at mesh-metrics.module.ts, then mesh-metrics.ts (every series).
 */
export { MeshMetricsModule, type MeshMetricsModuleAsyncOptions } from './mesh-metrics.module';
export { MeshMetrics, type WorkflowCounts } from './mesh-metrics';
export { MESH_METRICS_OPTIONS, type MeshMetricsOptions } from './options';
export { HeartbeatPublisher } from './heartbeat';
export {
  BrokerStatsSampler,
  replicationDirections,
  type GeoReplicationDirection,
  type GeoReplicationView,
} from './broker-stats.sampler';
export {
  sampleBroker,
  limitObservabilityRetention,
  OBSERVABILITY_RETENTION,
  MemoryStatsSource,
  PulsarStatsSource,
  type BrokerStatsSource,
} from './broker-stats';
