/**
 * What every agent process shares: validated configuration, bus and transport, state store, skills and /health.
 * Start at bootstrap.ts (runAgent), then mesh-runtime.module.ts and mesh-config.ts.
 */
export { bootstrapAgent, runAgent } from './bootstrap';
export { validateMeshEnvironment, MeshConfigError, type MeshConfig } from './mesh-config';
export { openStateStore, readRedisSecurity, type RedisSecurity } from './redis-settings';
export { MeshRuntimeModule } from './mesh-runtime.module';
export { MESH_CLOCK, MESH_CONFIG, SKILL_REGISTRY, STATE_STORE } from './tokens';
export { SYSTEM_CLOCK, type MeshClock } from './clock';
export { Caller, callerOf } from './caller';
