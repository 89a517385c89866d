import { MemoryBroker } from '@agent-mesh/bus';
import { runMeshCli } from './cli';
import type { CliContext } from './command';

/*
 * `mesh geo`'s command line: what it needs before it calls any broker. The bootstrap and lag
 * themselves run against two real clusters in libs/e2e/src/geo/geo-replication.pulsar.spec.ts.
 */
describe('mesh geo (command line)', () => {
  const broker = new MemoryBroker();
  let lines: string[];

  afterAll(() => broker.shutdown());

  function mesh(env: Record<string, string>, ...argv: string[]): Promise<number> {
    lines = [];
    const context: CliContext = {
      bus: broker.connect(),
      env,
      naming: { tenant: 'agentmesh', namespace: 'mesh' },
      output: { out: (line) => lines.push(line), err: (line) => lines.push(`ERR ${line}`) },
    };
    return runMeshCli(argv, { connect: async () => context, output: context.output });
  }

  it('names the missing peers: MESH_GEO_PEER_WEB_URLS or --peer', async () => {
    expect(await mesh({ PULSAR_WEB_URL: 'http://127.0.0.1:1' }, 'geo', 'bootstrap')).toBe(2);
    expect(lines[0]).toMatch(/ERR name the other regions’ clusters: MESH_GEO_PEER_WEB_URLS=.* or --peer/);
  });

  it('names a bad peer URL as the setting it came from', async () => {
    const env = { PULSAR_WEB_URL: 'http://127.0.0.1:1', MESH_GEO_PEER_WEB_URLS: 'eu-west:8090' };
    expect(await mesh(env, 'geo', 'lag')).toBe(1);
    expect(lines.join('\n')).toMatch(/MESH_GEO_PEER_WEB_URLS must be comma-separated http\(s\) URLs/);
  });

  it('refuses an unknown geo command with the usage', async () => {
    const env = { PULSAR_WEB_URL: 'http://127.0.0.1:1', MESH_GEO_PEER_WEB_URLS: 'http://127.0.0.1:2' };
    expect(await mesh(env, 'geo', 'failover')).toBe(2);
    expect(lines).toContain('ERR unknown geo command "failover"');
    expect(lines.some((line) => line.includes('mesh geo bootstrap'))).toBe(true);
  });

  it('fail-over: names what it needs (--lost, MESH_REGION, REDIS_URL) before it connects', async () => {
    expect(await mesh({ MESH_REGION: 'eu-west' }, 'geo', 'fail-over')).toBe(2);
    expect(lines[0]).toBe('ERR name the lost region: mesh geo fail-over --lost <region>');
    expect(await mesh({}, 'geo', 'fail-over', '--lost', 'us-east')).toBe(2);
    expect(lines[0]).toMatch(/ERR mesh geo fail-over: set MESH_REGION/);
    expect(await mesh({ MESH_REGION: 'eu-west' }, 'geo', 'fail-over', '--lost', 'us-east')).toBe(3);
    expect(lines[0]).toMatch(/ERR .*set REDIS_URL/);
  });

  it('says which cluster it cannot reach', async () => {
    const env = { PULSAR_WEB_URL: 'http://127.0.0.1:1', MESH_GEO_PEER_WEB_URLS: 'http://127.0.0.1:2' };
    expect(await mesh(env, 'geo', 'bootstrap')).toBe(1);
    expect(lines.join('\n')).toMatch(/127\.0\.0\.1:1 is unreachable/);
  });
});
