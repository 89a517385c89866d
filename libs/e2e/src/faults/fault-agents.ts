import { join } from 'node:path';
import { AgentProcess } from '@agent-mesh/topology';

/*
 * The fault suite's agent of before the topology API, kept for a suite that places its agents
 * itself (the geo suite, run-geo.ts on branch geo-homing) until it takes them from `localPlan`
 * as run-faults.ts does (docs/deploy.md, "The suites"). It is only a slot's way of making an
 * AgentProcess: the process is started, killed and stopped by AgentProcess, like every other.
 */

/** One agent process: a role on a fixed port, started again after each kill. */
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

/** The suite's entry (`entry`, run with the role as its argument), output appended to `<logDir>/<name>.log`. */
export class FaultAgent {
  private readonly agent: AgentProcess;
  kills = 0;
  readonly crashes: AgentCrash[] = [];

  constructor(
    readonly slot: AgentSlot,
    entry: string,
    logDir: string,
  ) {
    this.agent = new AgentProcess(
      {
        name: slot.name,
        service: slot.role,
        region: slot.env['MESH_REGION'] ?? 'local',
        command: ['node', entry, slot.role],
        env: { ...slot.env, MESH_INSTANCE_ID: slot.name, PORT: String(slot.port) },
        port: slot.port,
      },
      {
        logFile: join(logDir, `${slot.name}.log`),
        onCrash: (exit) =>
          this.crashes.push({ agent: exit.name, pid: exit.pid, exit: exit.exit, logTail: exit.output }),
      },
    );
  }

  get name(): string {
    return this.slot.name;
  }

  get url(): string {
    return this.agent.url;
  }

  get pid(): number | undefined {
    return this.agent.pid;
  }

  get starts(): number {
    return this.agent.starts;
  }

  start(timeoutMs = 90_000): Promise<void> {
    return this.agent.start(timeoutMs);
  }

  /** SIGKILL (the fault), and waits for the exit. */
  async kill(): Promise<void> {
    if (this.agent.pid === undefined) return;
    await this.agent.kill('SIGKILL');
    this.kills++;
  }

  async stop(timeoutMs = 15_000): Promise<void> {
    await this.agent.stop(timeoutMs);
  }

  logTail(bytes = 4_000): string {
    return this.agent.output(bytes);
  }
}
