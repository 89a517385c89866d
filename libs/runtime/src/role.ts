/** The agent role of this process ('orchestrator', 'worker', ..., or 'mesh' for all of them). */
export const MESH_ROLE = Symbol('MESH_ROLE');
