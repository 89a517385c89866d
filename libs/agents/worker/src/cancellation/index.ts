export {
  cancellableWorkflow,
  RunningTasks,
  REMEMBERED_ENDED_WORKFLOWS,
  ENDED_WORKFLOW_TTL_MS,
  type CancelTask,
} from './running-tasks';
export { WorkflowEndWatcher } from './workflow-end-watcher';
