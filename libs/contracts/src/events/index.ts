import { EventRegistry } from '../registry';
import { TaskAssignedV1, TaskCompletedV1, TaskFailedV1 } from './task';
import { WorkflowCompletedV1, WorkflowFailedV1, WorkflowRequestedV1, WorkflowStartedV1 } from './workflow';

export * from './task';
export * from './workflow';

/** Every event type of the mesh, current versions. */
export const MESH_EVENT_DEFINITIONS = [
  WorkflowRequestedV1,
  WorkflowStartedV1,
  WorkflowCompletedV1,
  WorkflowFailedV1,
  TaskAssignedV1,
  TaskCompletedV1,
  TaskFailedV1,
] as const;

export function createMeshEventRegistry(): EventRegistry {
  return new EventRegistry(MESH_EVENT_DEFINITIONS);
}
