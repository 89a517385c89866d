import { MemoryBroker } from '@agent-mesh/bus';
import { createDefaultSkillRegistry } from '@agent-mesh/skills';
import { validateMeshEnvironment } from './mesh-config';
import { metricsOptions } from './observability';

describe('metricsOptions', () => {
  const skills = createDefaultSkillRegistry();
  const config = validateMeshEnvironment({ MESH_INSTANCE_ID: 'i-1', MESH_REGION: 'eu-west' });

  it('has the orchestrator (or the embedded mesh) sample the broker, and no other role', () => {
    const statsMs = (role: string) => metricsOptions({ role }, config, skills).statsMs;
    expect(['orchestrator', 'mesh', 'worker', 'aggregator', 'market-maker', 'saga-coordinator'].map(statsMs)).toEqual([
      10_000, 10_000, 0, 0, 0, 0,
    ]);
  });

  it('gives every role a heartbeat, naming the skills of the ones that run a worker', () => {
    expect(metricsOptions({ role: 'worker' }, config, skills)).toMatchObject({
      role: 'worker',
      instanceId: 'i-1',
      region: 'eu-west',
      heartbeatMs: 5_000,
      skills: skills.names(),
    });
    const served = validateMeshEnvironment({ WORKER_SKILLS: 'keywords' });
    expect(metricsOptions({ role: 'mesh' }, served, skills).skills).toEqual(['keywords']);
    expect(metricsOptions({ role: 'aggregator' }, config, skills).skills).toBeUndefined();
  });

  it('publishes neither heartbeats nor stats from a rebuild (a bus of its own)', () => {
    const rebuild = metricsOptions({ role: 'orchestrator', bus: new MemoryBroker().connect() }, config, skills);
    expect([rebuild.heartbeatMs, rebuild.statsMs]).toEqual([0, 0]);
  });

  it('reads the broker from the admin API on Pulsar when PULSAR_WEB_URL is set, else not at all', () => {
    const pulsar = validateMeshEnvironment({ MESH_TRANSPORT: 'pulsar', PULSAR_WEB_URL: 'http://broker:8080' });
    expect(metricsOptions({ role: 'orchestrator' }, pulsar, skills).pulsarAdmin).toEqual({
      webUrl: 'http://broker:8080',
      token: undefined,
    });
    const nativeOnly = validateMeshEnvironment({
      MESH_TRANSPORT: 'pulsar',
      PULSAR_SERVICE_URL: 'pulsar://broker:6650',
    });
    expect(metricsOptions({ role: 'orchestrator' }, nativeOnly, skills).pulsarAdmin).toBeUndefined();
    expect(metricsOptions({ role: 'orchestrator' }, config, skills).pulsarAdmin).toBeUndefined(); // memory
  });
});
