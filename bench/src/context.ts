/**
 * What the parts of one benchmark run share: the report, the options, and the meshes — started
 * on first use and kept for the later parts (starting the Pulsar processes takes seconds).
 * A part that needs something unavailable (broker down, Redis down) is reported as skipped.
 */
import { agentBuildDir, buildAgents } from './build';
import { MemoryMeshSession, PulsarMeshSession, brokerProblem, redisProblem, type BenchEnv } from './meshes';
import type { Report } from './report';

export interface CommonOptions {
  /** Repeats per figure (each figure is their median). */
  readonly repeats: number;
  /** Shorter windows and fewer samples: for checking that everything runs, not for figures. */
  readonly quick: boolean;
  /** Worker processes of the default mesh. */
  readonly workers: number;
}

export class BenchContext {
  private memorySession?: Promise<MemoryMeshSession | undefined>;
  private pulsarSession?: Promise<PulsarMeshSession | undefined>;
  private built = false;
  private memoryProblem?: string;
  /** RSS of every agent process right after start, before any work (the memory part reads it). */
  idleRss?: { instance: string; app: string; rssMiB: number }[];
  /** RSS of every agent process right after the fan-out runs. */
  afterFanOutRss?: { instance: string; app: string; rssMiB: number }[];

  constructor(
    readonly env: BenchEnv,
    readonly report: Report,
    readonly options: CommonOptions,
  ) {}

  /** The in-process mesh on the memory bus with state in Redis, or undefined (skipped). */
  memory(part: string): Promise<MemoryMeshSession | undefined> {
    this.memorySession ??= (async () => {
      const problem = await redisProblem(this.env.redisUrl);
      if (problem) {
        this.memoryProblem = `needs Redis for the state: ${problem}`;
        return undefined;
      }
      process.stdout.write(`starting the memory mesh (every role in this process, state in Redis)\n`);
      return MemoryMeshSession.start(this.env, this.options.workers);
    })();
    return this.memorySession.then((session) => {
      if (!session) this.report.skip(`${part} (memory)`, this.memoryProblem ?? 'memory mesh unavailable');
      return session;
    });
  }

  /** Why Pulsar parts cannot run, or undefined. */
  async pulsarProblem(): Promise<string | undefined> {
    return (await brokerProblem(this.env.webUrl)) ?? (await redisProblem(this.env.redisUrl));
  }

  /** The multi-process mesh on Pulsar (every role its own process), or undefined (skipped). */
  pulsar(part: string): Promise<PulsarMeshSession | undefined> {
    this.pulsarSession ??= (async () => {
      const problem = await this.pulsarProblem();
      if (problem) return undefined;
      this.ensureBuilt();
      process.stdout.write(`starting the Pulsar mesh: every role its own process, ${this.options.workers} workers\n`);
      const session = await PulsarMeshSession.start(this.env, this.options.workers);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // settle: start-up garbage, lazy connections
      this.idleRss = session.rss();
      return session;
    })();
    return this.pulsarSession.then(async (session) => {
      if (!session) this.report.skip(`${part} (pulsar)`, (await this.pulsarProblem()) ?? 'Pulsar mesh unavailable');
      return session;
    });
  }

  /** Builds the agent apps once (for parts that start processes of their own). */
  ensureBuilt(): void {
    if (this.built) return;
    const { files, ms } = buildAgents();
    process.stdout.write(
      files > 0
        ? `built the agent apps (${files} files, ${ms} ms) into tmp/bench-build\n`
        : `agent apps from BENCH_AGENT_BUILD=${agentBuildDir()}\n`,
    );
    this.built = true;
  }

  /** Scales a duration down for --quick. */
  ms(full: number): number {
    return this.options.quick ? Math.max(500, Math.round(full / 3)) : full;
  }

  count(full: number): number {
    return this.options.quick ? Math.max(3, Math.round(full / 4)) : full;
  }

  async close(): Promise<void> {
    const sessions = await Promise.allSettled([this.memorySession, this.pulsarSession]);
    for (const s of sessions) if (s.status === 'fulfilled' && s.value) await s.value.close().catch(() => undefined);
    this.memorySession = undefined;
    this.pulsarSession = undefined;
  }
}
