/**
 * Test harness for specs, e2e suites and the bench: an in-process mesh, agent processes, Redis and Pulsar fixtures.
 * Start at in-process-mesh.ts (InProcessMesh) and agent-roles.ts, then workflow-client.ts.
 */
export { InProcessMesh, eventually, type AgentProcess } from './in-process-mesh';
export { RedisFixture } from './redis-fixture';
export { freePort } from './free-port';
export { WORKFLOW_ROLES, startAgent, startAgents, type AgentRole } from './agent-roles';
export { WorkflowClient } from './workflow-client';
export { PulsarNamespace } from './pulsar-namespace';
export { PulsarBrokerFixture, type ScriptRun } from './pulsar-broker-fixture';
export { FaultyBus, InjectedPublishFault, type FaultyBusOptions, type PublishFault } from './faulty-bus';
export { OtlpReceiver, type ReceivedSpan } from './otlp-receiver';
