import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { AgentProcess, localPlan } from './agent-process';
import { AGENT_ROLES, type MeshTopology } from './topology';

/**
 * `npm run mesh:local`: the topology of docker-compose.yml as plain processes on this machine —
 * Pulsar from deploy/pulsar, a redis-server per region (unless one answers already), and the
 * built agents, each logging to its own file. What it started is written to a state file, so
 * `npm run mesh:local -- down` stops exactly that and nothing else.
 */

interface StartedProcess {
  readonly name: string;
  readonly pid: number;
  readonly log: string;
  readonly port?: number;
}

/** What `up` started, for `down`. */
export interface LauncherState {
  readonly startedAt: string;
  readonly regions: number;
  /** The Pulsar clusters `up` started (those already up are left running by `down`). */
  readonly startedClusters: string[];
  readonly redis: StartedProcess[];
  readonly agents: StartedProcess[];
}

export interface LauncherIo {
  readonly root: string;
  readonly stateDir: string;
  readonly log: (line: string) => void;
}

function statePath(io: LauncherIo): string {
  return join(io.stateDir, 'state.json');
}

export function readLauncherState(io: LauncherIo): LauncherState | undefined {
  const file = statePath(io);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as LauncherState) : undefined;
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what} did not come up within ${timeoutMs / 1000} s`);
}

function logPath(io: LauncherIo, name: string): string {
  return join(io.stateDir, 'logs', `${name}.log`);
}

/** A process that outlives `up` (a redis-server), its output in its log file. */
function startDetached(
  io: LauncherIo,
  name: string,
  command: readonly string[],
  env: Record<string, string>,
): StartedProcess {
  const log = logPath(io, name);
  const fd = openSync(log, 'a');
  const child = spawn(command[0], command.slice(1), {
    cwd: io.root,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command.join(' ')})`);
  child.unref();
  return { name, pid: child.pid, log };
}

export interface UpOptions {
  /** Skip `nx build` of the agents (they were built already). */
  readonly skipBuild?: boolean;
}

export async function launcherUp(
  topology: MeshTopology,
  io: LauncherIo,
  options: UpOptions = {},
): Promise<LauncherState> {
  if (readLauncherState(io)) {
    throw new Error(`a local mesh is already up (${statePath(io)}): stop it with \`npm run mesh:local -- down\``);
  }
  mkdirSync(join(io.stateDir, 'logs'), { recursive: true });
  if (!options.skipBuild) {
    io.log(`building the agents (nx build ${AGENT_ROLES.join(', ')})`);
    execFileSync('npx', ['nx', 'run-many', '-t', 'build', '-p', ...AGENT_ROLES, '--outputStyle=static'], {
      cwd: io.root,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, NX_DAEMON: 'false' },
    });
  }

  const startedClusters: string[] = [];
  for (const region of topology.regions) {
    if (!(await portAnswers(region.pulsar.webPort))) startedClusters.push(region.pulsar.cluster);
  }
  if (startedClusters.length > 0) {
    io.log(`starting Pulsar ${startedClusters.join(', ')} (deploy/pulsar)`);
    execFileSync('bash', ['deploy/pulsar/pulsar.sh', 'up', '--clusters', String(topology.regions.length)], {
      cwd: io.root,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  }

  const redis: StartedProcess[] = [];
  for (const region of topology.regions) {
    if (await portAnswers(region.redis.port)) continue;
    io.log(`starting redis-server on ${region.redis.port} (${region.name})`);
    redis.push(
      startDetached(
        io,
        region.redis.service,
        [
          'redis-server',
          '--port',
          String(region.redis.port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
        ],
        {},
      ),
    );
    await waitFor(`redis-server on ${region.redis.port}`, () => portAnswers(region.redis.port), 10_000);
  }

  const agents: StartedProcess[] = [];
  const handles: AgentProcess[] = [];
  const state = (): LauncherState => ({
    startedAt: new Date().toISOString(),
    regions: topology.regions.length,
    startedClusters,
    redis,
    agents,
  });
  for (const process of localPlan(topology)) {
    if (await portAnswers(process.port)) {
      writeFileSync(statePath(io), JSON.stringify(state(), null, 2));
      throw new Error(
        `port ${process.port} (${process.name}) is taken: stop what listens there, then \`npm run mesh:local -- down\` and up again`,
      );
    }
    // The same start as the suites' (agent-process.ts), detached and logging to a file, so `down` can stop it.
    const log = logPath(io, process.name);
    const agent = new AgentProcess(process, { root: io.root, logFile: log, detached: true });
    agents.push({ name: process.name, pid: agent.launch(), log, port: process.port });
    handles.push(agent);
    writeFileSync(statePath(io), JSON.stringify(state(), null, 2));
  }
  for (const [i, agent] of handles.entries()) {
    await agent.waitHealthy(90_000);
    io.log(`${agent.name.padEnd(28)} pid ${String(agents[i].pid).padEnd(8)} ${agent.url}   log ${agents[i].log}`);
  }
  return state();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stop(processes: readonly StartedProcess[], graceMs: number): Promise<void> {
  for (const p of processes) if (alive(p.pid)) process.kill(p.pid, 'SIGTERM');
  const until = Date.now() + graceMs;
  while (Date.now() < until && processes.some((p) => alive(p.pid))) await new Promise((r) => setTimeout(r, 200));
  for (const p of processes) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
}

/** Stops what `up` started: the agents (SIGTERM, so they drain), then the Redis servers and Pulsar clusters it started. */
export async function launcherDown(io: LauncherIo): Promise<void> {
  const state = readLauncherState(io);
  if (!state) {
    io.log('no local mesh is up (nothing to stop)');
    return;
  }
  io.log(`stopping ${state.agents.length} agents`);
  await stop(state.agents, 40_000);
  if (state.redis.length > 0) {
    io.log(`stopping ${state.redis.length} redis-server(s)`);
    await stop(state.redis, 10_000);
  }
  if (state.startedClusters.length > 0) {
    io.log(`stopping Pulsar ${state.startedClusters.join(', ')} (deploy/pulsar)`);
    execFileSync('bash', ['deploy/pulsar/pulsar.sh', 'down', ...state.startedClusters], {
      cwd: io.root,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  }
  rmSync(statePath(io));
  io.log('local mesh down');
}

/** The pids `up` started that still run. */
export function runningProcesses(state: LauncherState): StartedProcess[] {
  return [...state.agents, ...state.redis].filter((p) => alive(p.pid));
}
