/** DI tokens the runtime provides to agent modules. */
export const MESH_CONFIG = Symbol('MESH_CONFIG');
export const STATE_STORE = Symbol('STATE_STORE');
export const SKILL_REGISTRY = Symbol('SKILL_REGISTRY');
/** The MeshClock handlers read the time from (see clock.ts). */
export const MESH_CLOCK = Symbol('MESH_CLOCK');
