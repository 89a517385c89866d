import type { MeshMetricsOptions } from '@agent-mesh/metrics';
import type { SkillRegistry } from '@agent-mesh/skills';
import type { MeshConfig } from './mesh-config';

/** The roles that sample the broker for `mesh.stats` and the backlog gauges: one per deployment's orchestrators. */
const SAMPLING_ROLES: ReadonlySet<string> = new Set(['orchestrator', 'mesh']);
/** The roles that run a worker, whose heartbeat names the skills served. */
const WORKER_ROLES: ReadonlySet<string> = new Set(['worker', 'mesh']);

/**
 * The metrics module's options for a process of `role`. A rebuild (a bus of its own given) is
 * not a live agent: it publishes neither heartbeats nor broker stats.
 */
export function metricsOptions(
  runtime: { readonly role: string; readonly bus?: unknown },
  config: MeshConfig,
  skills: SkillRegistry,
): MeshMetricsOptions {
  const live = runtime.bus === undefined;
  const admin = config.transport === 'pulsar' && config.pulsarWebUrl;
  return {
    role: runtime.role,
    instanceId: config.instanceId,
    region: config.region,
    naming: config.naming,
    heartbeatMs: live ? config.heartbeatMs : 0,
    statsMs: live && SAMPLING_ROLES.has(runtime.role) ? config.statsMs : 0,
    pulsarAdmin: admin ? { webUrl: admin, token: config.pulsarToken } : undefined,
    geoReplication: config.geoPeerWebUrls.length > 0,
    skills: WORKER_ROLES.has(runtime.role) ? (config.workerSkills ?? skills.names()) : undefined,
  };
}
