import { createServer } from 'node:net';
import {
  AgentProcess,
  localPlan,
  meshTopology,
  type AgentProcessOptions,
  type LocalProcess,
} from '@agent-mesh/topology';

/** The suites' region: the name their agents report (MESH_REGION) and their process names end with. */
export const SUITE_REGION = 'e2e';

/** Agent ports are looked for from here, below the ephemeral range (32768+), clear of the fault suite's (23170+). */
const FIRST_PORT_BASE = 24_000;
const PORT_BASE_STEP = 100;
const PORT_BASE_CHOICES = 70;

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function portOf(url: string): number {
  const parsed = new URL(url);
  if (parsed.port) return Number(parsed.port);
  return { 'http:': 80, 'https:': 443, 'pulsar:': 6650, 'pulsar+ssl:': 6651, 'redis:': 6379, 'rediss:': 6379 }[
    parsed.protocol
  ] as number;
}

export interface SuiteAgentsOptions {
  /** The shared broker (describeWithPulsar's environment). */
  readonly pulsar: { readonly webUrl: string; readonly serviceUrl: string };
  readonly redisUrl: string;
  /** Worker processes in the plan (`worker-e2e-1` …); start as many of them as the test needs. */
  readonly workers?: number;
  /** The suite's settings for every agent: its namespace (PulsarNamespace.meshEnv()), Redis key prefix, … */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * A suite's agents as processes, started as `npm run mesh:local` starts them: a one-region
 * topology of libs/topology (region `e2e`) on the shared broker and Redis, its agents on ports
 * nothing listens on, each process started by AgentProcess from the plan's command (the built
 * app, `dist/<role>`) and environment, with the suite's settings over it. The agents keep to
 * the WebSocket driver (PULSAR_SERVICE_URL empty) unless a process's own settings say otherwise.
 */
export class SuiteAgents {
  readonly started: AgentProcess[] = [];
  private plan?: Promise<LocalProcess[]>;

  constructor(private readonly options: SuiteAgentsOptions) {}

  /** The plan, on agent ports found free when it is first asked for. */
  private async placedPlan(): Promise<LocalProcess[]> {
    const options = this.options;
    const offset = Math.floor(Math.random() * PORT_BASE_CHOICES);
    for (let i = 0; i < PORT_BASE_CHOICES; i++) {
      const base = FIRST_PORT_BASE + ((offset + i) % PORT_BASE_CHOICES) * PORT_BASE_STEP;
      const plan = localPlan(
        meshTopology({
          regions: 1,
          workers: options.workers ?? 1,
          hosts: [
            {
              name: SUITE_REGION,
              agents: base,
              pulsarWeb: portOf(options.pulsar.webUrl),
              pulsarBroker: portOf(options.pulsar.serviceUrl),
              redis: portOf(options.redisUrl),
            },
          ],
          env: {
            PULSAR_WEB_URL: options.pulsar.webUrl,
            PULSAR_SERVICE_URL: '',
            REDIS_URL: options.redisUrl,
            ...options.env,
          },
        }),
      );
      const free = await Promise.all(plan.map((p) => portIsFree(p.port)));
      if (free.every(Boolean)) return plan;
    }
    throw new Error(`no free range of agent ports from ${FIRST_PORT_BASE}`);
  }

  /** Starts the plan's process `name` (`orchestrator-e2e`; `worker-e2e` alone, `worker-e2e-2` of several) and waits for its /health. */
  async start(name: string, options: AgentProcessOptions = {}): Promise<AgentProcess> {
    this.plan ??= this.placedPlan();
    const plan = await this.plan;
    const planned = plan.find((p) => p.name === name);
    if (!planned) throw new Error(`no process ${name} in the plan (${plan.map((p) => p.name).join(', ')})`);
    const agent = new AgentProcess(planned, options);
    this.started.push(agent);
    await agent.start(60_000);
    return agent;
  }

  /** SIGTERM to every process started, each draining; their exit codes. */
  stopAll(): Promise<(number | null)[]> {
    return Promise.all(this.started.map((a) => a.stop()));
  }
}
