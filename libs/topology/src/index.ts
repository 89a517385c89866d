/**
 * The deployment topology, described once (topology.ts), and what is made of it:
 * docker-compose.yml (compose.ts) and `npm run mesh:local`, the same topology as local processes
 * (launcher.ts, launcher-cli.ts), and deploy/k8s/base's manifests (kubernetes.ts). The local
 * processes are started by agent-process.ts, for the launcher and the e2e and fault suites alike.
 */
export * from './topology';
export {
  AgentProcess,
  localPlan,
  WORKSPACE_ROOT,
  type AgentExit,
  type AgentProcessOptions,
  type LocalProcess,
} from './agent-process';
export {
  AGENT_IMAGE,
  COMPOSE_FILE,
  COMPOSE_ONLY_SETTINGS,
  composeAgentEnvironment,
  composeDocument,
  renderCompose,
} from './compose';
export {
  launcherDown,
  launcherUp,
  readLauncherState,
  runningProcesses,
  type LauncherIo,
  type LauncherState,
} from './launcher';
export { runLauncher, topologyOptions } from './launcher-cli';
