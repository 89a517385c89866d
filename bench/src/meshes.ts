/**
 * The meshes the workflow benchmarks run against, both with their state in the real Redis
 * (a key prefix of the run's own, deleted at the end):
 * - `memory`: every role as an in-process "process" (InProcessMesh) on the memory bus, in the
 *   benchmark's own Node process;
 * - `pulsar`: every role as its own OS process on the pulsar-ws driver, in a namespace of the
 *   run's own (deleted at the end).
 */
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import type { Type } from '@nestjs/common';
import { AggregatorModule } from '@agent-mesh/agents/aggregator';
import { MarketMakerModule } from '@agent-mesh/agents/market-maker';
import { OrchestratorModule } from '@agent-mesh/agents/orchestrator';
import { SagaCoordinatorModule } from '@agent-mesh/agents/saga-coordinator';
import { WorkerModule } from '@agent-mesh/agents/worker';
import { PulsarWsEventBus } from '@agent-mesh/bus';
import type { TopicNaming } from '@agent-mesh/contracts';
import { PulsarAdmin } from '@agent-mesh/pulsar-admin';
import { RedisStateStore, type StateStore } from '@agent-mesh/state';
import { InProcessMesh, type AgentProcess } from '@agent-mesh/testing';
import { cpuMsOf, pidListeningOn, startAgent, type AgentHandle } from './agents';
import type { AgentApp } from './build';
import { CompletionObserver, type WorkflowTarget } from './driver';

export const TENANT = 'agentmesh';
/** The skills the benchmark's workflows use; workers subscribe to these only. */
export const BENCH_SKILLS = 'keywords,summarize';

export interface BenchEnv {
  readonly webUrl: string;
  readonly redisUrl: string;
  /** A short random id of this run: key prefixes, namespaces, queue names. */
  readonly run: string;
}

export function newRunId(): string {
  return randomBytes(4).toString('hex');
}

/** Deletes every Redis key under `prefix` (SCAN + DEL); returns how many. */
export async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** Why Redis cannot be used, or undefined when it answers. */
export async function redisProblem(redisUrl: string): Promise<string | undefined> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (error) {
    return `Redis at ${redisUrl}: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    redis.disconnect();
  }
}

/** Why the broker cannot be used, or undefined when it answers. */
export async function brokerProblem(webUrl: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${webUrl}/admin/v2/tenants/${TENANT}`, { signal: AbortSignal.timeout(3000) });
    if (!response.ok) return `Pulsar at ${webUrl}: tenant ${TENANT}: HTTP ${response.status}`;
    return undefined;
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `Pulsar at ${webUrl}: ${error instanceof Error ? error.message : String(error)}${cause}`;
  }
}

/** A running mesh: what the workflow benchmarks need from either kind. */
export interface MeshSession extends WorkflowTarget {
  readonly naming: TopicNaming;
  readonly workerCount: number;
  /** Starts or stops worker processes until there are `count`. */
  setWorkers(count: number): Promise<void>;
  close(): Promise<void>;
}

// ----------------------------------------------------------------------------- memory

/** Every role in this process on one MemoryBroker; each "process" its own Redis connection. */
export class MemoryMeshSession implements MeshSession {
  readonly name = 'memory';
  readonly mesh = new InProcessMesh();
  readonly naming: TopicNaming;
  readonly keyPrefix: string;
  observer!: CompletionObserver;
  orchestratorUrl = '';
  private readonly stores: StateStore[] = [];
  private readonly workers: AgentProcess[] = [];
  private sequence = 0;

  private constructor(private readonly env: BenchEnv) {
    this.naming = this.mesh.naming;
    this.keyPrefix = `bench:${env.run}:mem:`;
  }

  static async start(env: BenchEnv, workers: number): Promise<MemoryMeshSession> {
    const session = new MemoryMeshSession(env);
    try {
      const orchestrator = await session.startRole('orchestrator', [OrchestratorModule]);
      session.orchestratorUrl = orchestrator.url;
      await session.startRole('aggregator', [AggregatorModule]);
      await session.startRole('saga-coordinator', [SagaCoordinatorModule]);
      await session.startRole('market-maker', [MarketMakerModule]);
      await session.setWorkers(workers);
      session.observer = new CompletionObserver(session.mesh.broker.connect(), session.naming);
      await session.observer.start();
      return session;
    } catch (error) {
      await session.close();
      throw error;
    }
  }

  get workerCount(): number {
    return this.workers.length;
  }

  async setWorkers(count: number): Promise<void> {
    while (this.workers.length < count) this.workers.push(await this.startRole('worker', [WorkerModule]));
    while (this.workers.length > count) await this.workers.pop()?.stop();
  }

  async close(): Promise<void> {
    await this.observer?.close();
    await this.mesh.stopAll();
    await Promise.allSettled(this.stores.map((s) => s.close()));
    await deleteRedisKeys(this.env.redisUrl, this.keyPrefix);
  }

  private async startRole(role: string, modules: Type<unknown>[]): Promise<AgentProcess> {
    const store = await RedisStateStore.connect({ url: this.env.redisUrl, keyPrefix: this.keyPrefix });
    this.stores.push(store);
    return this.mesh.start({
      role,
      modules,
      stateStore: store,
      instanceId: `${role}-${++this.sequence}`,
      env: { WORKER_SKILLS: BENCH_SKILLS, DRAIN_TIMEOUT_MS: '2000' },
    });
  }
}

// ----------------------------------------------------------------------------- pulsar

export const SINGLETON_ROLES: readonly AgentApp[] = ['orchestrator', 'aggregator', 'saga-coordinator', 'market-maker'];

/** Every role its own OS process on pulsar-ws, in namespace `agentmesh/bench-<run>`. */
export class PulsarMeshSession implements MeshSession {
  readonly name = 'pulsar';
  readonly naming: TopicNaming;
  readonly keyPrefix: string;
  readonly agents: AgentHandle[] = [];
  observer!: CompletionObserver;
  orchestratorUrl = '';
  private readonly workers: AgentHandle[] = [];
  private readonly bus: PulsarWsEventBus;
  private readonly admin: PulsarAdmin;
  private sequence = 0;

  private constructor(
    private readonly env: BenchEnv,
    suffix: string,
  ) {
    this.naming = { tenant: TENANT, namespace: `bench-${env.run}${suffix}` };
    this.keyPrefix = `bench:${env.run}${suffix}:pulsar:`;
    this.bus = new PulsarWsEventBus({ webUrl: env.webUrl });
    this.admin = new PulsarAdmin({ webUrl: env.webUrl });
  }

  /** Creates the namespace and starts every role (singletons in parallel, then the workers). */
  static async start(env: BenchEnv, workers: number, suffix = ''): Promise<PulsarMeshSession> {
    const session = new PulsarMeshSession(env, suffix);
    try {
      await session.admin.ensureNamespace(session.naming.tenant, session.naming.namespace);
      session.observer = new CompletionObserver(session.bus, session.naming);
      await session.observer.start();
      const singletons = await Promise.all(SINGLETON_ROLES.map((app) => session.startProcess(app)));
      session.orchestratorUrl = singletons[0].url;
      await session.setWorkers(workers);
      return session;
    } catch (error) {
      await session.close();
      throw error;
    }
  }

  get workerCount(): number {
    return this.workers.length;
  }

  /** ws://host:port/ws/v2 of the broker. */
  get wsBase(): string {
    return this.bus.wsBase;
  }

  async setWorkers(count: number): Promise<void> {
    const missing = Math.max(0, count - this.workers.length);
    const started = await Promise.all(Array.from({ length: missing }, () => this.startProcess('worker')));
    this.workers.push(...started);
    while (this.workers.length > count) {
      const worker = this.workers.pop();
      if (!worker) break;
      await worker.stop();
      this.agents.splice(this.agents.indexOf(worker), 1);
    }
  }

  /** Stops the processes of a singleton role (e.g. the saga coordinator for a fan-out-only run). */
  async stopRole(app: AgentApp): Promise<void> {
    const running = this.agents.filter((a) => a.app === app);
    await Promise.all(running.map((a) => a.stop()));
    for (const agent of running) this.agents.splice(this.agents.indexOf(agent), 1);
  }

  /** Starts a singleton role again if it is not running. */
  async ensureRole(app: AgentApp): Promise<void> {
    if (!this.agents.some((a) => a.app === app)) await this.startProcess(app);
  }

  /** Roles running now, e.g. `orchestrator, aggregator, 2 × worker`. */
  describe(): string {
    const singletons = this.agents.filter((a) => a.app !== 'worker').map((a) => a.app);
    return [...singletons, `${this.workers.length} × worker`].join(', ');
  }

  /**
   * CPU time used so far (ms) by each agent process, by role (workers summed), and by the
   * broker and Redis when their processes are visible (they may serve others too).
   */
  cpuMs(): Map<string, number> {
    const byRole = new Map<string, number>();
    for (const agent of this.agents) byRole.set(agent.app, (byRole.get(agent.app) ?? 0) + cpuMsOf(agent.pid));
    const broker = pidListeningOn(Number(new URL(this.env.webUrl).port || 80));
    if (broker !== undefined) byRole.set('broker', cpuMsOf(broker));
    const redis = pidListeningOn(Number(new URL(this.env.redisUrl).port || 6379));
    if (redis !== undefined) byRole.set('redis', cpuMsOf(redis));
    return byRole;
  }

  /** Resident memory of every agent process, by instance. */
  rss(): { instance: string; app: AgentApp; rssMiB: number }[] {
    return this.agents.map((a) => ({ instance: a.instance, app: a.app, rssMiB: a.rssMiB() }));
  }

  async close(): Promise<void> {
    await this.observer?.close();
    const codes = await Promise.all(this.agents.map((a) => a.stop()));
    const bad = this.agents.filter((_, i) => codes[i] !== 0 && codes[i] !== null);
    for (const agent of bad)
      process.stderr.write(`note: ${agent.instance} exited with ${String(codes[this.agents.indexOf(agent)])}\n`);
    await this.bus.close();
    await this.admin
      .deleteNamespace(this.naming.tenant, this.naming.namespace, { force: true })
      .catch((error: unknown) => {
        process.stderr.write(`note: could not delete namespace ${this.naming.namespace}: ${String(error)}\n`);
      });
    await deleteRedisKeys(this.env.redisUrl, this.keyPrefix);
  }

  private async startProcess(app: AgentApp): Promise<AgentHandle> {
    const instance = `${app}-${this.env.run}-${++this.sequence}`;
    const agent = await startAgent(app, instance, {
      MESH_TRANSPORT: 'pulsar',
      PULSAR_WEB_URL: this.env.webUrl,
      // blank: the WebSocket driver, whatever the environment says
      PULSAR_SERVICE_URL: '',
      PULSAR_TENANT: this.naming.tenant,
      PULSAR_NAMESPACE: this.naming.namespace,
      MESH_REGION: 'bench',
      REDIS_URL: this.env.redisUrl,
      REDIS_KEY_PREFIX: this.keyPrefix,
      WORKER_SKILLS: BENCH_SKILLS,
      DRAIN_TIMEOUT_MS: '2000',
    });
    this.agents.push(agent);
    return agent;
  }
}
