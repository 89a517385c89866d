export { InProcessMesh, eventually, type AgentProcess, type AgentProcessOptions } from './in-process-mesh';
export { RedisFixture, DEFAULT_TEST_REDIS_URL } from './redis-fixture';
export { builtMain, freePort, spawnAgent, type SpawnedAgent } from './agent-process';
