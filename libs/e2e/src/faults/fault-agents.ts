import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** One agent process of the suite: a role on a fixed port, started again after each kill. */
export interface AgentSlot {
  /** Also its MESH_INSTANCE_ID, kept across restarts (a restarted worker is the same bidder). */
  readonly name: string;
  readonly role: string;
  readonly port: number;
  readonly env: Readonly<Record<string, string>>;
}

export interface AgentCrash {
  readonly agent: string;
  readonly pid: number;
  readonly exit: string;
  readonly logTail: string;
}

const WORKSPACE = join(__dirname, '../../../..');

/**
 * An agent process of the suite, from the suite's build (fault-agent.js), its output appended
 * to `<logDir>/<name>.log`. `kill()` is the fault (SIGKILL); any other exit is a crash, recorded.
 */
export class FaultAgent {
  private child?: ChildProcess;
  private expectExit = false;
  kills = 0;
  starts = 0;
  readonly crashes: AgentCrash[] = [];

  constructor(
    readonly slot: AgentSlot,
    private readonly entry: string,
    private readonly logDir: string,
  ) {}

  get name(): string {
    return this.slot.name;
  }

  get url(): string {
    return `http://127.0.0.1:${this.slot.port}`;
  }

  get logFile(): string {
    return join(this.logDir, `${this.slot.name}.log`);
  }

  /** The running process's pid, or undefined. */
  get pid(): number | undefined {
    const child = this.child;
    return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  /** Starts the process and waits for its /health (200). */
  async start(timeoutMs = 90_000): Promise<void> {
    if (this.pid !== undefined) throw new Error(`${this.name} is already running`);
    const log = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, [this.entry], {
      cwd: WORKSPACE,
      env: {
        ...process.env,
        ...this.slot.env,
        FAULT_ROLE: this.slot.role,
        MESH_INSTANCE_ID: this.slot.name,
        PORT: String(this.slot.port),
        NO_COLOR: '1',
      },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    this.child = child;
    this.expectExit = false;
    this.starts++;
    const pid = child.pid ?? -1;
    child.once('exit', (code, signal) => {
      if (this.expectExit && this.child === child) return;
      this.crashes.push({ agent: this.name, pid, exit: signal ?? `code ${code}`, logTail: this.logTail() });
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${this.name} exited before it was healthy:\n${this.logTail()}`);
      }
      if (await healthy(this.url)) return;
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`${this.name} was not healthy within ${timeoutMs} ms:\n${this.logTail()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  }

  /** SIGKILL, and waits for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.expectExit = true;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    this.kills++;
    await exited;
  }

  /** SIGTERM (graceful), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.expectExit = true;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  /** The last `bytes` of its log. */
  logTail(bytes = 4_000): string {
    try {
      const size = statSync(this.logFile).size;
      return readFileSync(this.logFile)
        .subarray(Math.max(0, size - bytes))
        .toString('utf8');
    } catch {
      return '(no log)';
    }
  }
}

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    await response.text();
    return response.ok;
  } catch {
    return false;
  }
}
