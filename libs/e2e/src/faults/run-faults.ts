import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { DeadLetterProperties, PulsarWsEventBus, type BusMessage, type EventBus } from '@agent-mesh/bus';
import { qualifyTopic, Topics, type TopicNaming } from '@agent-mesh/contracts';
import { createStateStore, type StateStore } from '@agent-mesh/state';
import { PulsarBrokerFixture, PulsarNamespace } from '@agent-mesh/testing';
import { AgentProcess, localPlan, meshTopology, type AgentExit } from '@agent-mesh/topology';
// tools/ is the workspace's build tooling, not an Nx project: nothing to declare a dependency on.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { compileApps } from '../../../../tools/compile-apps';
import { FAULT_SCENARIOS } from './fault-scenarios';
import { EffectLedger, faultSkillRegistry, LEDGER_KEYS } from './fault-skills';
import { FUZZ_ID, fuzzMessages, type FuzzMessage } from './fuzz-messages';
import { OwnRedis } from './own-redis';
import { isTerminal, sleep, WorkflowDriver, type WorkflowRecord } from './workflow-driver';
import { integerSetting } from '../support/suite-settings';

/*
 * `npm run test:faults`: the fault suite (docs/reliability.md). Every role its own process,
 * two workers, on a Pulsar standalone and a redis-server of the suite's own (the shared ones
 * are never touched): a topology of its own (libs/topology), started as `npm run mesh:local`
 * starts its processes (AgentProcess), with the suite's entry (fault-agent.ts) as the command. Then:
 *   chaos — FAULTS_WORKFLOWS workflows of every pattern (fault-scenarios.ts) while a random agent
 *           is SIGKILLed and restarted every ~FAULTS_KILL_EVERY_MS, with one Redis restart and one
 *           broker restart during the run; every workflow must end with its intended status
 *           within FAULTS_WORKFLOW_WAIT_MS (else it is lost), and no effect may be applied twice
 *           (the effect ledger, fault-skills.ts);
 *   fuzz  — FAULTS_FUZZ bad messages (fuzz-messages.ts) published raw to every topic the agents
 *           consume, while a round of workflows runs: every one dead-lettered with a reason, no
 *           agent restarted, the workflows complete.
 * Ends with the counts line, and exit 1 when anything was lost, duplicated, crashed or not
 * dead-lettered.
 */

const WORKSPACE = join(__dirname, '../../../..');

const CONFIG = {
  workflows: integerSetting('FAULTS_WORKFLOWS', 220),
  fuzz: integerSetting('FAULTS_FUZZ', 1_100),
  killEveryMs: integerSetting('FAULTS_KILL_EVERY_MS', 2_000),
  workflowWaitMs: integerSetting('FAULTS_WORKFLOW_WAIT_MS', 120_000),
  /** Submissions are spread out, one per this many ms at most, so the kills meet every kind of workflow. */
  submitEveryMs: integerSetting('FAULTS_SUBMIT_EVERY_MS', 700),
  concurrency: integerSetting('FAULTS_CONCURRENCY', 12),
  redisPort: integerSetting('FAULTS_REDIS_PORT', 6397),
  brokerPort: integerSetting('FAULTS_BROKER_PORT', 6697),
  webPort: integerSetting('FAULTS_WEB_PORT', 8097),
  bookiePort: integerSetting('FAULTS_BOOKIE_PORT', 3197),
  /**
   * The agents' HTTP ports, from here up: below the ephemeral range (32768+ on Linux), so that no
   * outgoing connection takes the port of a killed agent before it is started again.
   */
  agentPortBase: integerSetting('FAULTS_AGENT_PORT_BASE', 23170),
};

const RUN_ID = `faults-${new Date().toISOString().replace(/[:.]/g, '-')}`;
const LOG_DIR = join(WORKSPACE, 'tmp', 'faults', RUN_ID);
const BUILD_DIR = join(WORKSPACE, 'tmp', 'faults-build');
const ENTRY = join(BUILD_DIR, 'libs', 'e2e', 'src', 'faults', 'fault-agent.js');
const AGENT_APPS = ['orchestrator', 'aggregator', 'worker', 'saga-coordinator', 'market-maker'];
const LEDGER_PREFIX = 'faults-ledger:';
/** Each worker's own price factor, so the market's bids differ. */
const BID_PRICE_FACTORS: Readonly<Record<string, string>> = { 'worker-faults-1': '0.5', 'worker-faults-2': '0.8' };
/** At most this many agents are down (killed, not yet healthy again) at a time. */
const MAX_DOWN = 2;
/** How long a lane waits for its workflow before it submits the next one. */
const LANE_HOLD_MS = 45_000;

/** Whether nothing listens on the port (a listen on it succeeds). */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

const log = (line: string) => console.log(`[faults ${new Date().toISOString().slice(11, 19)}] ${line}`);

interface Counts {
  workflows: number;
  kills: number;
  brokerRestarts: number;
  redisRestarts: number;
  lost: number;
  duplicates: number;
  deadLettered: number;
  badMessages: number;
  crashes: number;
  wrongStatus: number;
}

class FaultRun {
  readonly redis = new OwnRedis(CONFIG.redisPort);
  readonly broker = new PulsarBrokerFixture({
    clusterName: 'faults',
    brokerPort: CONFIG.brokerPort,
    webPort: CONFIG.webPort,
    bookiePort: CONFIG.bookiePort,
    commandTimeoutMs: 240_000,
  });
  namespace!: PulsarNamespace;
  agents: AgentProcess[] = [];
  /** SIGKILLs per agent (the faults). */
  readonly kills = new Map<AgentProcess, number>();
  /** Exits nobody asked for. */
  readonly crashes: AgentExit[] = [];
  ledger?: StateStore;
  brokerRestarts = 0;
  /** Faults the suite could not inject (a broker that did not come back): the run fails. */
  readonly faultErrors: string[] = [];
  /** Set while Redis or the broker is being restarted: no kills, no submissions. */
  private outage?: Promise<void>;
  private readonly restarting = new Set<AgentProcess>();
  private readonly restarts = new Set<Promise<void>>();

  get naming(): TopicNaming {
    return this.namespace.naming;
  }

  /** Agents killed and not healthy again yet. */
  get restartingCount(): number {
    return this.restarting.size;
  }

  get killCount(): number {
    return [...this.kills.values()].reduce((sum, n) => sum + n, 0);
  }

  get orchestrator(): AgentProcess {
    return this.agents[0];
  }

  async setUp(): Promise<void> {
    mkdirSync(LOG_DIR, { recursive: true });
    const built = Date.now();
    compileApps(AGENT_APPS, BUILD_DIR);
    log(`built the agents into ${BUILD_DIR} (${Date.now() - built} ms)`);
    await this.redis.start();
    log(`redis-server :${CONFIG.redisPort} (append-only, fsync always)`);
    const up = await this.broker.start().catch(async (error: unknown) => {
      // a standalone now and then exits during its first start on a loaded machine: once more
      log(`the broker did not start, trying once more: ${String(error).split('\n')[0]}`);
      await this.broker.dispose().catch(() => undefined);
      return this.broker.start();
    });
    log(`Pulsar standalone :${CONFIG.webPort} up in ${up.durationMs} ms`);
    this.namespace = new PulsarNamespace({ webUrl: this.broker.webUrl, tenant: 'agentmesh' }, 'faults');
    await this.namespace.create();
    this.ledger = await createStateStore({ redisUrl: this.redis.url, keyPrefix: LEDGER_PREFIX });
    // The suite's topology: one region `faults` on its own broker and Redis, every role, two workers.
    const topology = meshTopology({
      regions: 1,
      workers: 2,
      hosts: [
        {
          name: 'faults',
          agents: CONFIG.agentPortBase,
          pulsarWeb: CONFIG.webPort,
          pulsarBroker: CONFIG.brokerPort,
          redis: CONFIG.redisPort,
        },
      ],
      env: {
        PULSAR_TENANT: this.namespace.tenant,
        PULSAR_NAMESPACE: this.namespace.name,
        PULSAR_SERVICE_URL: '', // the WebSocket driver, whether or not pulsar-client loads
        REDIS_KEY_PREFIX: 'faults:',
        MESH_BOARDS: 'default',
        FAULT_LEDGER_REDIS_URL: this.redis.url,
        FAULT_LEDGER_PREFIX: LEDGER_PREFIX,
      },
      command: (role) => ['node', ENTRY, role],
    });
    for (const planned of localPlan(topology)) {
      if (!(await portIsFree(planned.port)))
        throw new Error(`port ${planned.port} is taken: set FAULTS_AGENT_PORT_BASE to a free range`);
      const price = BID_PRICE_FACTORS[planned.name];
      const agent = new AgentProcess(planned, {
        logFile: join(LOG_DIR, `${planned.name}.log`),
        env: price ? { BID_PRICE_FACTOR: price } : {},
        onCrash: (exit) => this.crashes.push(exit),
      });
      this.agents.push(agent);
      this.kills.set(agent, 0);
    }
    // One by one: the first start of each role creates its subscriptions (bidders start at 'latest').
    for (const agent of this.agents) await agent.start();
    log(`agents up: ${this.agents.map((a) => `${a.name} pid ${a.pid}`).join(', ')}`);
  }

  /** Resolves when no outage is going on. */
  async noOutage(): Promise<void> {
    while (this.outage) await this.outage;
  }

  /** Kills a random running agent and starts it again (in the background). */
  killOne(): void {
    if (this.outage) return;
    const candidates = this.agents.filter((a) => !this.restarting.has(a) && a.pid !== undefined);
    const victim = candidates[Math.floor(Math.random() * candidates.length)];
    if (!victim) return;
    this.restarting.add(victim);
    const restart = (async () => {
      await victim.kill('SIGKILL');
      this.kills.set(victim, (this.kills.get(victim) ?? 0) + 1);
      await this.startAgain(victim);
    })().finally(() => {
      this.restarting.delete(victim);
      this.restarts.delete(restart);
    });
    this.restarts.add(restart);
  }

  /** Starts an agent, retrying while an outage keeps it from coming up. */
  private async startAgain(agent: AgentProcess): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await agent.start();
        return;
      } catch (error) {
        log(`${agent.name} did not come back (attempt ${attempt}): ${String(error).split('\n')[0]}`);
        if (attempt >= 5) throw error;
        await sleep(2_000);
      }
    }
  }

  async settleRestarts(): Promise<void> {
    while (this.restarts.size > 0) await Promise.allSettled([...this.restarts]);
  }

  /** Runs `fault` with kills and submissions paused (they resume afterwards). */
  async during(what: string, fault: () => Promise<string>): Promise<void> {
    let release!: () => void;
    this.outage = new Promise<void>((resolve) => (release = resolve));
    try {
      await this.settleRestarts();
      log(`${what}…`);
      log(`${what}: ${await fault()}`);
    } finally {
      this.outage = undefined;
      release();
    }
  }

  async restartRedis(): Promise<void> {
    await this.during('Redis restart (SIGKILL, 1 s away, start on the same append-only file)', async () => {
      const ms = await this.redis.restart(1_000);
      return `Redis back after ${ms} ms`;
    });
  }

  async restartBroker(): Promise<void> {
    await this.during('broker restart (pulsar.sh down, then up on the same data dir)', async () => {
      const { down, up } = await this.broker.restart();
      this.brokerRestarts++;
      return `broker down in ${down.durationMs} ms, up in ${up.durationMs} ms`;
    });
  }

  private tornDown?: Promise<void>;

  /** Stops everything the suite started; safe to call twice (a signal during the teardown). */
  tearDown(): Promise<void> {
    this.tornDown ??= this.stopAll();
    return this.tornDown;
  }

  private async stopAll(): Promise<void> {
    await this.settleRestarts().catch(() => undefined);
    await Promise.allSettled(this.agents.map((a) => a.stop(15_000)));
    await this.ledger?.close().catch(() => undefined);
    await this.broker.dispose().catch((error: unknown) => log(`broker teardown: ${String(error)}`));
    await this.redis.dispose().catch(() => undefined);
  }
}

/** Runs `count` workflows of the table in turn, at most `concurrency` at a time. */
async function runWorkflows(
  driver: WorkflowDriver,
  count: number,
  concurrency: number,
  paused: () => Promise<void>,
  onSubmitted: (n: number) => Promise<void> = async () => undefined,
): Promise<WorkflowRecord[]> {
  const records: Promise<WorkflowRecord>[] = [];
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const n = next++;
      await onSubmitted(n);
      const record = driver.run(FAULT_SCENARIOS[n % FAULT_SCENARIOS.length], paused);
      records.push(record);
      // A workflow still running after LANE_HOLD_MS is followed on in the background: one that
      // hangs must not hold its lane (and the rest of the run) until it counts as lost.
      await Promise.race([record, sleep(LANE_HOLD_MS)]);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return Promise.all(records);
}

async function chaos(run: FaultRun, driver: WorkflowDriver): Promise<WorkflowRecord[]> {
  const total = CONFIG.workflows;
  let stopKilling = false;
  // A kill every ~killEveryMs, of an agent that is up, with at most MAX_DOWN agents down at once
  // (on a loaded machine a restart can take longer than the interval).
  const killer = (async () => {
    while (!stopKilling) {
      await sleep(CONFIG.killEveryMs * (0.75 + Math.random() * 0.5));
      if (!stopKilling && run.restartingCount < MAX_DOWN) run.killOne();
    }
  })();
  const progress = setInterval(() => {
    log(`chaos: ${driver.accepted} accepted, ${driver.ended} ended, ${run.killCount} kills so far`);
  }, 15_000);
  const redisAt = Math.floor(total * 0.3);
  const brokerAt = Math.floor(total * 0.6);
  let outages = Promise.resolve();
  const outageFailed = (error: unknown) => {
    run.faultErrors.push(error instanceof Error ? error.message : String(error));
  };
  let nextSubmitAt = Date.now();
  const records = await runWorkflows(
    driver,
    total,
    CONFIG.concurrency,
    () => run.noOutage(),
    async (n) => {
      // spread out over the run: at most one submission per submitEveryMs
      const at = nextSubmitAt;
      nextSubmitAt = Math.max(Date.now(), at) + CONFIG.submitEveryMs;
      await sleep(at - Date.now());
      // the outages start when a share of the workflows is out; submissions wait for their end
      if (n === redisAt) outages = outages.then(() => run.restartRedis()).catch(outageFailed);
      if (n === brokerAt) outages = outages.then(() => run.restartBroker()).catch(outageFailed);
    },
  );
  await outages;
  stopKilling = true;
  await killer;
  await run.settleRestarts();
  clearInterval(progress);
  return records;
}

/** Every topic some agent consumes, qualified. */
function consumedTopics(naming: TopicNaming): string[] {
  const skills = faultSkillRegistry(new EffectLedger(() => Promise.reject(new Error('not used')))).names();
  const names = [
    Topics.workflowEvents,
    Topics.taskResults,
    Topics.sagaTaskResults,
    Topics.solverTaskResults,
    Topics.marketAsks,
    Topics.marketBids,
    Topics.marketFills,
    Topics.marketRounds,
    Topics.sagaCommands,
    Topics.sagaEvents,
    Topics.timers,
    Topics.blackboard('default'),
    ...skills.map((skill) => Topics.tasks(skill)),
  ];
  return names.map((name) => qualifyTopic(naming, name));
}

interface FuzzOutcome {
  readonly published: number;
  readonly deadLettered: number;
  readonly missing: FuzzMessage[];
  readonly reasons: Map<string, number>;
  readonly restartedAgents: string[];
  readonly workflows: WorkflowRecord[];
  readonly otherDeadLetters: Map<string, number>;
}

/** Drains a reader into `into` until it has nothing more right now. */
type Reader = Awaited<ReturnType<EventBus['createReader']>>;

async function drain(reader: Reader, into: BusMessage[]): Promise<void> {
  while (await reader.hasMessageAvailable()) {
    const message = await reader.readNext(5_000);
    if (!message) return;
    into.push(message);
  }
}

async function fuzz(run: FaultRun, driver: WorkflowDriver): Promise<FuzzOutcome> {
  const pids = new Map(run.agents.map((a) => [a.name, a.pid]));
  const bus = new PulsarWsEventBus({ webUrl: run.broker.webUrl, sendTimeoutMs: 60_000 });
  const deadLetters: BusMessage[] = [];
  const reader = await bus.createReader({
    topic: qualifyTopic(run.naming, Topics.deadLetter),
    startMessageId: 'earliest',
  });
  try {
    const messages = fuzzMessages(RUN_ID, CONFIG.fuzz, consumedTopics(run.naming));
    // two rounds of the table, a few at a time, so they run while the bad messages arrive
    const workflowsRunning = runWorkflows(driver, 2 * FAULT_SCENARIOS.length, 6, async () => undefined);
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < messages.length) {
          const m = messages[next++];
          await bus.publish(m.topic, { payload: m.payload, properties: { [FUZZ_ID]: m.id, 'fuzz.kind': m.kind } });
        }
      }),
    );
    log(`fuzz: ${messages.length} bad messages published to ${new Set(messages.map((m) => m.topic)).size} topics`);
    const wanted = new Set(messages.map((m) => m.id));
    const found = new Map<string, string>();
    const deadline = Date.now() + 180_000;
    for (;;) {
      await drain(reader, deadLetters);
      for (const d of deadLetters) {
        const id = d.properties[FUZZ_ID];
        if (id && wanted.has(id) && !found.has(id)) found.set(id, d.properties[DeadLetterProperties.reason] ?? '');
      }
      if (found.size === wanted.size || Date.now() > deadline) break;
      await sleep(2_000);
    }
    const workflows = await workflowsRunning;
    const reasons = new Map<string, number>();
    for (const reason of found.values()) {
      const code = reason === '' ? '(no reason)' : reason.split(':')[0];
      reasons.set(code, (reasons.get(code) ?? 0) + 1);
    }
    const otherDeadLetters = new Map<string, number>();
    for (const d of deadLetters) {
      if (d.properties[FUZZ_ID]) continue;
      const key = `${d.properties[DeadLetterProperties.originTopic]?.split('/').pop()} (${d.properties[DeadLetterProperties.subscription]}): ${(d.properties[DeadLetterProperties.reason] ?? '').slice(0, 160)}`;
      otherDeadLetters.set(key, (otherDeadLetters.get(key) ?? 0) + 1);
    }
    return {
      published: messages.length,
      deadLettered: [...found.values()].filter((reason) => reason !== '').length,
      missing: messages.filter((m) => !found.has(m.id)),
      reasons,
      restartedAgents: run.agents.filter((a) => a.pid !== pids.get(a.name)).map((a) => a.name),
      workflows,
      otherDeadLetters,
    };
  } finally {
    await reader.close().catch(() => undefined);
    await bus.close().catch(() => undefined);
  }
}

/** Σ over units of work of (applications − 1): work applied under more than one task id. */
async function duplicateEffects(
  ledger: StateStore,
): Promise<{ duplicates: number; detail: string[]; runs: number; tasks: number }> {
  const applied = await ledger.hgetall(LEDGER_KEYS.applied);
  const runs = await ledger.hgetall(LEDGER_KEYS.runs);
  const twice = Object.entries(applied).filter(([, n]) => Number(n) > 1);
  return {
    duplicates: twice.reduce((sum, [, n]) => sum + Number(n) - 1, 0),
    detail: twice.slice(0, 20).map(([what, n]) => `${what} applied ${n}×`),
    runs: Object.values(runs).reduce((sum, n) => sum + Number(n), 0),
    tasks: Object.keys(runs).length,
  };
}

function describeRecord(r: WorkflowRecord): string {
  const open = r.openSteps?.length ? `; open: ${r.openSteps.slice(0, 4).join(', ')}` : '';
  return `  ${r.id ?? '(never accepted)'} ${r.scenario.pattern} "${r.scenario.name}": ${r.status ?? 'unread'}, intended ${r.scenario.intended}${r.reason ? ` (${r.reason.slice(0, 200)})` : ''}${open}`;
}

/** The run under way, for the signal handlers' teardown. */
let currentRun: FaultRun | undefined;

async function main(): Promise<number> {
  const started = Date.now();
  const run = new FaultRun();
  currentRun = run;
  const counts: Counts = {
    workflows: 0,
    kills: 0,
    brokerRestarts: 0,
    redisRestarts: 0,
    lost: 0,
    duplicates: 0,
    deadLettered: 0,
    badMessages: 0,
    crashes: 0,
    wrongStatus: 0,
  };
  try {
    log(`run ${RUN_ID}: ${JSON.stringify(CONFIG)}; logs in ${LOG_DIR}`);
    await run.setUp();
    const driver = new WorkflowDriver(() => run.orchestrator.url, CONFIG.workflowWaitMs);

    const chaosStarted = Date.now();
    const chaosRecords = await chaos(run, driver);
    counts.kills = run.killCount;
    log(`chaos done in ${Math.round((Date.now() - chaosStarted) / 1000)} s: ${counts.kills} kills`);

    const fuzzStarted = Date.now();
    const fuzzed = CONFIG.fuzz > 0 ? await fuzz(run, driver) : undefined;
    if (fuzzed) log(`fuzz done in ${Math.round((Date.now() - fuzzStarted) / 1000)} s`);

    for (const error of run.faultErrors) log(`a fault could not be injected: ${error.split('\n')[0]}`);
    if (run.faultErrors.length > 0) throw new Error(`${run.faultErrors.length} fault(s) could not be injected`);
    const records = [...chaosRecords, ...(fuzzed?.workflows ?? [])];
    const lost = records.filter((r) => !isTerminal(r.status));
    const wrong = records.filter((r) => isTerminal(r.status) && r.status !== r.scenario.intended);
    if (!run.ledger) throw new Error('no ledger connection');
    const effects = await duplicateEffects(run.ledger);
    counts.workflows = records.length;
    counts.brokerRestarts = run.brokerRestarts;
    counts.redisRestarts = run.redis.restarts;
    counts.lost = lost.length;
    counts.wrongStatus = wrong.length;
    counts.duplicates = effects.duplicates;
    counts.deadLettered = fuzzed?.deadLettered ?? 0;
    counts.badMessages = fuzzed?.published ?? 0;
    const crashes = run.crashes;
    counts.crashes = crashes.length + (fuzzed?.restartedAgents.length ?? 0);

    const byPattern = new Map<string, [number, number]>();
    for (const r of records) {
      const [ok, all] = byPattern.get(r.scenario.pattern) ?? [0, 0];
      byPattern.set(r.scenario.pattern, [ok + (r.status === r.scenario.intended ? 1 : 0), all + 1]);
    }
    log(`per pattern (as intended / run): ${[...byPattern].map(([p, [ok, all]]) => `${p} ${ok}/${all}`).join(', ')}`);
    log(`kills per agent: ${run.agents.map((a) => `${a.name} ${run.kills.get(a) ?? 0}`).join(', ')}`);
    log(
      `skill deliveries: ${effects.runs} runs of ${effects.tasks} tasks (redeliveries ${effects.runs - effects.tasks}); uncertain submissions ${driver.uncertainSubmissions}`,
    );
    if (lost.length) log(`lost (not terminal in ${CONFIG.workflowWaitMs} ms):\n${lost.map(describeRecord).join('\n')}`);
    if (wrong.length) log(`ended with another status than intended:\n${wrong.map(describeRecord).join('\n')}`);
    if (effects.detail.length) log(`duplicate effects:\n  ${effects.detail.join('\n  ')}`);
    for (const c of crashes) log(`crash: ${c.name} pid ${c.pid} exited ${c.exit}; log tail:\n${c.output}`);
    if (fuzzed) {
      log(`fuzz dead-letter reasons: ${[...fuzzed.reasons].map(([code, n]) => `${code} ${n}`).join(', ')}`);
      if (fuzzed.restartedAgents.length)
        log(`agents with another pid after the fuzz: ${fuzzed.restartedAgents.join(', ')}`);
      if (fuzzed.missing.length)
        log(
          `not dead-lettered: ${fuzzed.missing
            .slice(0, 20)
            .map((m) => `${m.id} ${m.kind} on ${m.topic.split('/').pop()}`)
            .join(', ')}`,
        );
      if (fuzzed.otherDeadLetters.size)
        log(
          `other dead letters on ${Topics.deadLetter} (not the fuzz's):\n  ${[...fuzzed.otherDeadLetters].map(([k, n]) => `${n}× ${k}`).join('\n  ')}`,
        );
    }
  } catch (error) {
    log(`the suite itself failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    counts.lost = Math.max(counts.lost, 1);
    await run.tearDown();
    printCounts(counts, started);
    return 2;
  }
  await run.tearDown();
  printCounts(counts, started);
  const failed =
    counts.lost > 0 ||
    counts.duplicates > 0 ||
    counts.crashes > 0 ||
    counts.deadLettered < counts.badMessages ||
    counts.wrongStatus > 0;
  return failed ? 1 : 0;
}

function printCounts(c: Counts, started: number): void {
  log(
    `run time ${Math.round((Date.now() - started) / 1000)} s; workflows with another status than intended: ${c.wrongStatus}`,
  );
  console.log(
    `faults: ${c.workflows} workflows, ${c.kills} kills, ${c.brokerRestarts} broker restarts, ${c.redisRestarts} redis restarts, ` +
      `lost ${c.lost}, duplicate effects ${c.duplicates}, dead-lettered ${c.deadLettered} of ${c.badMessages} bad messages, ` +
      `agent crashes ${c.crashes}`,
  );
}

process.on('unhandledRejection', (error: unknown) => {
  log(`unhandled rejection: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  void currentRun?.tearDown().finally(() => process.exit(2));
});

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping the agents, the broker and Redis of the suite`);
    void currentRun?.tearDown().finally(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
