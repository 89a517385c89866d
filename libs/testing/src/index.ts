export { InProcessMesh, eventually, type AgentProcess, type AgentProcessOptions } from './in-process-mesh';
export { RedisFixture, DEFAULT_TEST_REDIS_URL } from './redis-fixture';
export { builtMain, freePort, spawnAgent, type SpawnedAgent } from './agent-process';
export {
  AGENT_MODULES,
  WORKFLOW_ROLES,
  startAgent,
  startAgents,
  withProcessEnv,
  type AgentRole,
  type AgentStart,
  type AgentStartOptions,
} from './agent-roles';
export { TERMINAL_STATUSES, WorkflowClient, type HttpAnswer, type WorkflowClientOptions, type WorkflowStatusBody } from './workflow-client';
export { PulsarNamespace, type PulsarTarget } from './pulsar-namespace';
export { PulsarBrokerFixture, ScriptError, type PulsarBrokerFixtureOptions, type ScriptRun } from './pulsar-broker-fixture';
