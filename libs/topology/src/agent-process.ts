import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { agentEnvironment, type MeshTopology } from './topology';

/**
 * One way to start an agent process, for `npm run mesh:local` and the suites alike: the local
 * plan says which processes a topology has, with their command and whole environment, and
 * `AgentProcess` starts one of them, waits for its /health, signals, stops and restarts it.
 */

/** The repository's root: the agents' commands are relative to it. */
export const WORKSPACE_ROOT = join(__dirname, '..', '..', '..');

/** One agent process of the local plan. */
export interface LocalProcess {
  /** `worker-us-east-2`: the compose service, with the replica's number when it has several; also its MESH_INSTANCE_ID. */
  readonly name: string;
  readonly service: string;
  readonly region: string;
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly port: number;
}

/** Every agent process of the topology, with its own port and instance id; a suite's settings (`topology.env`) last. */
export function localPlan(topology: MeshTopology): LocalProcess[] {
  return topology.regions.flatMap((region) =>
    region.agents.flatMap((agent) =>
      Array.from({ length: agent.replicas }, (_, k): LocalProcess => {
        const name = agent.replicas > 1 ? `${agent.service}-${k + 1}` : agent.service;
        const port = agent.hostPort + k;
        const env = agentEnvironment(agent, {
          pulsarHost: '127.0.0.1',
          pulsarWebPort: region.pulsar.webPort,
          pulsarBrokerPort: region.pulsar.brokerPort,
          redisHost: '127.0.0.1',
          redisPort: region.redis.port,
          port,
          bind: '127.0.0.1',
          peerPulsarWebUrls: topology.regions
            .filter((other) => other !== region)
            .map((other) => `http://127.0.0.1:${other.pulsar.webPort}`),
        });
        return {
          name,
          service: agent.service,
          region: region.name,
          command: agent.command,
          env: { ...env, MESH_INSTANCE_ID: name, ...topology.env },
          port,
        };
      }),
    ),
  );
}

/** An exit nobody asked for (not `kill()`, not `stop()`): a crash. */
export interface AgentExit {
  readonly name: string;
  readonly pid: number;
  /** The signal, or `code <n>`. */
  readonly exit: string;
  /** The end of its output. */
  readonly output: string;
}

export interface AgentProcessOptions {
  /** Where the command runs (default: the repository's root). */
  readonly root?: string;
  /** Appends the output to this file (kept across restarts); without it, the output is kept in memory. */
  readonly logFile?: string;
  /** Settings of this process's own, over the plan's (one worker's BID_PRICE_FACTOR, a test's LLM endpoint). */
  readonly env?: Readonly<Record<string, string>>;
  /** Lets the process outlive this one (the launcher: `down` stops it by its pid). Needs `logFile`. */
  readonly detached?: boolean;
  /** Called when the process exits without `kill()` or `stop()`. */
  readonly onCrash?: (exit: AgentExit) => void;
}

/** How much of the output a failure message quotes. */
const TAIL = 4_000;

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    await response.text();
    return response.ok;
  } catch {
    return false;
  }
}

function running(child: ChildProcess | undefined): boolean {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

/** A process of the local plan: started, signalled, stopped and started again on the same port, name and log. */
export class AgentProcess {
  private child?: ChildProcess;
  private expectExit = false;
  private memoryOutput = '';
  /** How many times it was started. */
  starts = 0;

  constructor(
    readonly plan: LocalProcess,
    private readonly options: AgentProcessOptions = {},
  ) {
    if (options.detached && !options.logFile) throw new Error(`${plan.name}: a detached process needs a log file`);
  }

  get name(): string {
    return this.plan.name;
  }

  get url(): string {
    return `http://127.0.0.1:${this.plan.port}`;
  }

  /** The running process's pid, or undefined. */
  get pid(): number | undefined {
    return running(this.child) ? this.child?.pid : undefined;
  }

  /** Starts the process without waiting for it; returns its pid. */
  launch(): number {
    if (this.pid !== undefined) throw new Error(`${this.name} is already running`);
    const { logFile, detached = false } = this.options;
    const fd = logFile ? openSync(logFile, 'a') : undefined;
    const [program, ...args] = this.plan.command;
    const child = spawn(program, args, {
      cwd: this.options.root ?? WORKSPACE_ROOT,
      env: { ...process.env, ...this.plan.env, ...this.options.env, NO_COLOR: '1' },
      detached,
      stdio: fd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd, fd],
    });
    if (fd !== undefined) closeSync(fd);
    child.stdout?.on('data', (chunk: Buffer) => (this.memoryOutput += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.memoryOutput += chunk.toString()));
    if (child.pid === undefined) throw new Error(`could not start ${this.name} (${this.plan.command.join(' ')})`);
    if (detached) child.unref();
    this.child = child;
    this.expectExit = false;
    this.starts++;
    const pid = child.pid;
    child.once('exit', (code, signal) => {
      if (this.expectExit && this.child === child) return;
      this.options.onCrash?.({ name: this.name, pid, exit: signal ?? `code ${code}`, output: this.output(TAIL) });
    });
    return pid;
  }

  /** Waits until /health answers 200; fails with the end of its output when it exits first or takes longer. */
  async waitHealthy(timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const where = this.options.logFile ? ` (log: ${this.options.logFile})` : '';
    for (;;) {
      if (!running(this.child))
        throw new Error(`${this.name} exited before it was healthy${where}:\n${this.output(TAIL)}`);
      if (await healthy(this.url)) return;
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`${this.name} was not healthy within ${timeoutMs / 1000} s${where}:\n${this.output(TAIL)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  }

  /** Starts the process and waits for its /health. */
  async start(timeoutMs = 90_000): Promise<void> {
    this.launch();
    await this.waitHealthy(timeoutMs);
  }

  /** Sends `signal` (SIGKILL: the fault) and waits for the exit; resolves with the exit code (null when signalled). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    const child = this.child;
    if (!child || !running(child)) return child?.exitCode ?? null;
    this.expectExit = true;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    return exited;
  }

  /** SIGTERM, so it drains its in-flight messages; SIGKILL after `timeoutMs`. Resolves with the exit code. */
  async stop(timeoutMs = 45_000): Promise<number | null> {
    const child = this.child;
    if (!child || !running(child)) return child?.exitCode ?? null;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.kill('SIGTERM');
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops it (`signal`: SIGTERM drains, SIGKILL is a crash) and starts it again, same port, name and log. */
  async restart(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM', timeoutMs = 90_000): Promise<void> {
    if (signal === 'SIGTERM') await this.stop();
    else await this.kill('SIGKILL');
    await this.start(timeoutMs);
  }

  /** What it printed over all its starts, or the last `bytes` of it. */
  output(bytes = Infinity): string {
    const logFile = this.options.logFile;
    if (!logFile) return this.memoryOutput.slice(-bytes);
    try {
      const size = statSync(logFile).size;
      return readFileSync(logFile)
        .subarray(Math.max(0, size - bytes))
        .toString('utf8');
    } catch {
      return '(no log)';
    }
  }
}
