import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentProcess, localPlan, type AgentExit, type LocalProcess } from './agent-process';
import { agentCommand, DEFAULT_TOPOLOGY_OPTIONS, meshTopology, type RegionHosts } from './topology';

/** A stand-in agent: answers /health on PORT, prints its env's GREETING, drains for a moment on SIGTERM. */
const FAKE_AGENT = `
const http = require('node:http');
const server = http.createServer((req, res) => res.end('ok'));
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('up as', process.env.MESH_INSTANCE_ID, process.env.GREETING));
process.on('SIGTERM', () => setTimeout(() => server.close(() => process.exit(0)), 50));
if (process.env.EXIT_AFTER_MS) setTimeout(() => process.exit(3), Number(process.env.EXIT_AFTER_MS));
`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function fakePlan(env: Record<string, string> = {}): Promise<LocalProcess> {
  const port = await freePort();
  return {
    name: 'fake-1',
    service: 'fake',
    region: 'test',
    command: ['node', '-e', FAKE_AGENT],
    env: { PORT: String(port), MESH_INSTANCE_ID: 'fake-1', GREETING: 'from the plan', ...env },
    port,
  };
}

/** Polls `check` for up to 5 s (output reaches the pipe on its own schedule). */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !check(); i++) await new Promise((r) => setTimeout(r, 100));
}

const answers = (url: string) =>
  fetch(`${url}/health`).then(
    (r) => r.ok,
    () => false,
  );

describe('AgentProcess (a real child process)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-process-'));
  const started: AgentProcess[] = [];
  afterAll(async () => {
    await Promise.allSettled(started.map((a) => a.kill()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts with the plan’s environment (and its own over it), answers, and stops with SIGTERM’s exit code', async () => {
    const agent = new AgentProcess(await fakePlan(), { env: { GREETING: 'its own' } });
    started.push(agent);
    await agent.start(10_000);
    expect(await answers(agent.url)).toBe(true);
    await until(() => agent.output().includes('up as'));
    expect(agent.output()).toContain('up as fake-1 its own');
    expect(await agent.stop()).toBe(0);
    expect(agent.pid).toBeUndefined();
    expect(await answers(agent.url)).toBe(false);
  });

  it('kill(SIGKILL) and restart: the same port and log file, no crash reported; an exit of its own is one', async () => {
    const crashes: AgentExit[] = [];
    const logFile = join(dir, 'fake.log');
    const agent = new AgentProcess(await fakePlan(), { logFile, onCrash: (exit) => crashes.push(exit) });
    started.push(agent);
    await agent.start(10_000);
    const firstPid = agent.pid;
    expect(await agent.kill('SIGKILL')).toBeNull();
    expect(await answers(agent.url)).toBe(false);
    await agent.restart('SIGKILL', 10_000);
    expect(agent.pid).not.toBe(firstPid);
    expect(await answers(agent.url)).toBe(true);
    expect(agent.starts).toBe(2);
    expect(readFileSync(logFile, 'utf8').match(/up as fake-1/g)).toHaveLength(2);
    expect(crashes).toEqual([]);

    await agent.stop();
    const crashing = new AgentProcess(await fakePlan({ EXIT_AFTER_MS: '300' }), {
      onCrash: (exit) => crashes.push(exit),
    });
    started.push(crashing);
    await crashing.start(10_000);
    const pid = crashing.pid;
    await until(() => crashes.length > 0);
    expect(crashes).toEqual([{ name: 'fake-1', pid, exit: 'code 3', output: expect.stringContaining('up as') }]);
  });

  it('fails the start with the output when the process exits before it is healthy', async () => {
    const plan = { ...(await fakePlan()), command: ['node', '-e', 'console.error("bad setting X"); process.exit(1)'] };
    const agent = new AgentProcess(plan);
    await expect(agent.start(10_000)).rejects.toThrow(/fake-1 exited before it was healthy:\s+bad setting X/);
  });
});

describe('a suite’s own topology (hosts, env, command)', () => {
  const hosts: RegionHosts[] = [{ name: 'faults', agents: 23170, pulsarWeb: 8097, pulsarBroker: 6697, redis: 6397 }];

  it('places every process on its broker, Redis and ports, with its settings last and its command', () => {
    const plan = localPlan(
      meshTopology({
        regions: 1,
        workers: 2,
        hosts,
        env: { PULSAR_NAMESPACE: 'faults-1', PULSAR_SERVICE_URL: '' },
        command: (role) => ['node', 'suite-agent.js', role],
      }),
    );
    expect(plan.map((p) => [p.name, p.port])).toEqual([
      ['orchestrator-faults', 23170],
      ['aggregator-faults', 23172],
      ['market-maker-faults', 23173],
      ['saga-coordinator-faults', 23174],
      ['worker-faults-1', 23180],
      ['worker-faults-2', 23181],
    ]);
    expect(plan[4].command).toEqual(['node', 'suite-agent.js', 'worker']);
    expect(plan[4].env).toMatchObject({
      MESH_REGION: 'faults',
      PULSAR_WEB_URL: 'http://127.0.0.1:8097',
      PULSAR_SERVICE_URL: '',
      REDIS_URL: 'redis://127.0.0.1:6397',
      PORT: '23180',
      MESH_INSTANCE_ID: 'worker-faults-1',
      PULSAR_NAMESPACE: 'faults-1',
    });
  });

  it('two regions by default: us-east and eu-west, the built apps', () => {
    const plan = localPlan(meshTopology(DEFAULT_TOPOLOGY_OPTIONS));
    expect(new Set(plan.map((p) => p.region))).toEqual(new Set(['us-east', 'eu-west']));
    expect(plan.find((p) => p.name === 'worker-eu-west-2')).toMatchObject({
      port: 4011,
      command: agentCommand('worker'),
      env: expect.objectContaining({ PULSAR_WEB_URL: 'http://127.0.0.1:8090', REDIS_URL: 'redis://127.0.0.1:6380' }),
    });
  });

  it('two regions of a suite’s own (a geo suite’s two clusters): each region’s processes on its broker and Redis', () => {
    const plan = localPlan(
      meshTopology({
        regions: 2,
        workers: 1,
        hosts: [
          { name: 'us-east', agents: 24100, pulsarWeb: 8098, pulsarBroker: 6698, redis: 6398 },
          { name: 'eu-west', agents: 24200, pulsarWeb: 8099, pulsarBroker: 6699, redis: 6398 },
        ],
        env: { PULSAR_NAMESPACE: 'geo-1' },
      }),
    );
    const euWest = plan.filter((p) => p.region === 'eu-west');
    expect(euWest.map((p) => p.name)).toEqual([
      'orchestrator-eu-west',
      'aggregator-eu-west',
      'market-maker-eu-west',
      'saga-coordinator-eu-west',
      'worker-eu-west',
    ]);
    for (const p of euWest)
      expect(p.env).toMatchObject({
        MESH_REGION: 'eu-west',
        PULSAR_WEB_URL: 'http://127.0.0.1:8099',
        PULSAR_NAMESPACE: 'geo-1',
      });
    expect(plan.find((p) => p.name === 'orchestrator-us-east')?.env['PULSAR_WEB_URL']).toBe('http://127.0.0.1:8098');
  });

  it('refuses fewer hosts than regions', () => {
    expect(() => meshTopology({ regions: 2, workers: 1, hosts })).toThrow(/hosts describes 1 region/);
  });
});
