export { bootstrapAgent, runAgent, type BootstrapOptions } from './bootstrap';
export { connectEventBus, processMemoryBroker } from './bus-factory';
export { HealthController, type HealthReport } from './health.controller';
export {
  MESH_SETTING_NAMES,
  MeshConfigError,
  MeshEnvironment,
  validateMeshEnvironment,
  type MeshConfig,
  type MeshTransportKind,
} from './mesh-config';
export { MeshRuntimeModule, type MeshRuntimeOptions } from './mesh-runtime.module';
export { MESH_ROLE } from './role';
export { MESH_CONFIG, SKILL_REGISTRY, STATE_STORE } from './tokens';
