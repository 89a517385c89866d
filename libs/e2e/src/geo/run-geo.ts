import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PulsarWsEventBus, type EventBus, type Reader } from '@agent-mesh/bus';
import { EnvelopeProperties, qualifyTopic, RegionAdoptedV1, Topics, type TopicNaming } from '@agent-mesh/contracts';
import { bootstrapGeoReplication, PulsarAdmin, replicationLag } from '@agent-mesh/pulsar-admin';
import { adoptRegion } from '@agent-mesh/replay';
import { createStateStore, type StateStore } from '@agent-mesh/state';
import { PulsarBrokerFixture } from '@agent-mesh/testing';
// tools/ is the workspace's build tooling, not an Nx project: nothing to declare a dependency on.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { compileApps } from '../../../../tools/compile-apps';
import { FaultAgent } from '../faults/fault-agents';
import { FAULT_SCENARIOS, type FaultScenario } from '../faults/fault-scenarios';
import { EffectLedger, faultSkillRegistry, LEDGER_KEYS } from '../faults/fault-skills';
import { OwnRedis } from '../faults/own-redis';
import { isTerminal, sleep } from '../faults/workflow-driver';
import { integerSetting } from '../support/suite-settings';

/*
 * `npm run test:geo`: the geo suite (docs/geo.md). Two Pulsar clusters joined by the geo
 * bootstrap, a redis-server per region, every role of each region a process from the built apps
 * (the fault suite's agent entry and skills, whose effect ledger lives in eu-west's Redis, shared
 * by both regions). GEO_WORKFLOWS workflows of every pattern are submitted to us-east; while they
 * run, all of us-east's agents and its broker are SIGKILLed; eu-west adopts us-east's workflows
 * (adoptRegion, what `mesh geo fail-over --lost us-east` does) and finishes every one. Then
 * us-east's broker comes back; once it has the adoption, its agents start again (fail-back) and a
 * few new workflows run there. Prints the counts line; exit 1 on a lost workflow, a duplicate
 * effect, a wrong status or a region that ran an adopted workflow again.
 */

const WORKSPACE = join(__dirname, '../../../..');

const CONFIG = {
  workflows: integerSetting('GEO_WORKFLOWS', 100),
  afterFailBack: integerSetting('GEO_FAILBACK_WORKFLOWS', 5),
  /**
   * Caps us-east's replication to eu-west at this many messages per second per topic while it
   * runs (0: no cap), so that it dies with events eu-west never saw: they reach eu-west only on
   * fail-back, late (docs/geo.md). The cap is lifted when us-east's broker comes back.
   */
  replicationRate: integerSetting('GEO_REPLICATION_RATE', 0),
  /** us-east is lost once this many of the workflows ended there (the others are under way or queued). */
  loseAfterEnded: integerSetting('GEO_LOSE_AFTER_ENDED', 0),
  submitLanes: integerSetting('GEO_SUBMIT_LANES', 20),
  waitMs: integerSetting('GEO_WAIT_MS', 240_000),
  agentPortBase: integerSetting('GEO_AGENT_PORT_BASE', 23370),
  usEast: {
    web: integerSetting('GEO_US_EAST_WEB_PORT', 8380),
    broker: integerSetting('GEO_US_EAST_BROKER_PORT', 6950),
    bookie: integerSetting('GEO_US_EAST_BOOKIE_PORT', 3481),
    redis: integerSetting('GEO_US_EAST_REDIS_PORT', 6381),
  },
  euWest: {
    web: integerSetting('GEO_EU_WEST_WEB_PORT', 8390),
    broker: integerSetting('GEO_EU_WEST_BROKER_PORT', 6960),
    bookie: integerSetting('GEO_EU_WEST_BOOKIE_PORT', 3491),
    redis: integerSetting('GEO_EU_WEST_REDIS_PORT', 6382),
  },
};

/** The fault suite's scenarios, the market's included (the adoption re-issues open asks); GEO_MARKET=0 leaves it out. */
const SCENARIOS = FAULT_SCENARIOS.filter((s) => process.env['GEO_MARKET'] !== '0' || s.pattern !== 'market');

const NAMING: TopicNaming = { tenant: 'agentmesh', namespace: 'mesh' };
const RUN_ID = `geo-${new Date().toISOString().replace(/[:.]/g, '-')}`;
const LOG_DIR = join(WORKSPACE, 'tmp', 'geo', RUN_ID);
const BUILD_DIR = join(WORKSPACE, 'tmp', 'geo-build');
const ENTRY = join(BUILD_DIR, 'libs', 'e2e', 'src', 'faults', 'fault-agent.js');
const AGENT_APPS = ['orchestrator', 'aggregator', 'worker', 'saga-coordinator', 'market-maker'];
const ROLES = ['orchestrator', 'aggregator', 'market-maker', 'saga-coordinator', 'worker'];
const LEDGER_PREFIX = 'geo-ledger:';
const STATE_PREFIX = 'geo:';

const log = (line: string) => console.log(`[geo ${new Date().toISOString().slice(11, 19)}] ${line}`);

type RegionName = 'us-east' | 'eu-west';

class Region {
  readonly broker: PulsarBrokerFixture;
  readonly redis: OwnRedis;
  agents: FaultAgent[] = [];

  constructor(
    readonly name: RegionName,
    ports: { web: number; broker: number; bookie: number; redis: number },
    private readonly portBase: number,
  ) {
    this.broker = new PulsarBrokerFixture({
      clusterName: name,
      webPort: ports.web,
      brokerPort: ports.broker,
      bookiePort: ports.bookie,
      commandTimeoutMs: 240_000,
    });
    this.redis = new OwnRedis(ports.redis);
  }

  get orchestratorUrl(): string {
    return this.agents[0].url;
  }

  makeAgents(peer: Region, ledgerUrl: string): void {
    const env = {
      MESH_TRANSPORT: 'pulsar',
      PULSAR_WEB_URL: this.broker.webUrl,
      PULSAR_SERVICE_URL: '',
      PULSAR_TENANT: NAMING.tenant,
      PULSAR_NAMESPACE: NAMING.namespace,
      MESH_REGION: this.name,
      MESH_GEO_PEER_WEB_URLS: peer.broker.webUrl,
      REDIS_URL: this.redis.url,
      REDIS_KEY_PREFIX: STATE_PREFIX,
      MESH_BOARDS: 'default',
      FAULT_LEDGER_REDIS_URL: ledgerUrl,
      FAULT_LEDGER_PREFIX: LEDGER_PREFIX,
    };
    this.agents = ROLES.map(
      (role, i) =>
        new FaultAgent(
          { name: `${this.name}-${role}`, role, port: this.portBase + i, env: { ...env, BID_PRICE_FACTOR: '0.5' } },
          ENTRY,
          LOG_DIR,
        ),
    );
  }

  async startAgents(): Promise<void> {
    // One by one: the first start of each role creates its subscriptions.
    for (const agent of this.agents) await agent.start();
  }
}

interface Submitted {
  readonly id: string;
  readonly scenario: FaultScenario;
  status?: string;
}

async function submit(baseUrl: string, scenario: FaultScenario, ordinal: number): Promise<string> {
  const body = { name: `geo ${scenario.pattern}: ${scenario.name}`, step: scenario.step(`g${ordinal}`) };
  const response = await fetch(`${baseUrl}/workflows`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const json = (await response.json().catch(() => ({}))) as { workflowId?: string };
  if (response.status !== 202 || !json.workflowId)
    throw new Error(`submission refused (${response.status}): ${JSON.stringify(json)}`);
  return json.workflowId;
}

async function statusOf(baseUrl: string, id: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${baseUrl}/workflows/${id}`, { signal: AbortSignal.timeout(30_000) });
    if (response.status !== 200) return undefined;
    return ((await response.json()) as { status?: string }).status;
  } catch {
    return undefined;
  }
}

/** Polls each workflow not ended yet at `baseUrl` until all ended or `until`. */
async function followAll(baseUrl: string, workflows: readonly Submitted[], until: number): Promise<void> {
  for (;;) {
    const open = workflows.filter((w) => !isTerminal(w.status));
    if (open.length === 0 || Date.now() > until) return;
    for (const w of open) w.status = (await statusOf(baseUrl, w.id)) ?? w.status;
    if (workflows.some((w) => !isTerminal(w.status))) await sleep(1_000);
  }
}

const ENDINGS: Readonly<Record<string, string>> = {
  'workflow.completed': 'completed',
  'workflow.failed': 'failed',
  'workflow.compensated': 'compensated',
  'workflow.cancelled': 'cancelled',
  'workflow.timed-out': 'timed-out',
};

/**
 * Follows the workflows' ends in a region's log (`workflow.events` read whole, once a round):
 * what the region knows, its own and replicated ends alike, at the cost of one scan for all.
 */
async function followInLog(
  bus: EventBus,
  workflows: readonly Submitted[],
  until: number,
  stallMs = Infinity,
): Promise<void> {
  const byId = new Map(workflows.map((w) => [w.id, w]));
  const ended = () => workflows.filter((w) => isTerminal(w.status)).length;
  let progressAt = Date.now();
  let seen = ended();
  for (;;) {
    const reader = await bus.createReader({
      topic: qualifyTopic(NAMING, Topics.workflowEvents),
      startMessageId: 'earliest',
    });
    try {
      while (await reader.hasMessageAvailable()) {
        const message = await reader.readNext(5_000);
        if (!message) break;
        const end = ENDINGS[message.properties[EnvelopeProperties.eventType] ?? ''];
        const w = byId.get(message.properties[EnvelopeProperties.correlationId] ?? '');
        if (end && w) w.status = end;
      }
    } finally {
      await reader.close();
    }
    if (ended() > seen) [seen, progressAt] = [ended(), Date.now()];
    if (workflows.every((w) => isTerminal(w.status)) || Date.now() > until) return;
    // What is left may be waiting for the lost region's unreplicated events (they come on fail-back).
    if (Date.now() - progressAt > stallMs) return;
    await sleep(2_000);
  }
}

/** Publish-to-arrival times (ms) of us-east's events arriving in eu-west, read live while the workflows run. */
class LagProbe {
  readonly lags: number[] = [];
  private stopped = false;
  private done?: Promise<void>;

  async start(bus: EventBus): Promise<void> {
    const reader = await bus.createReader({
      topic: qualifyTopic(NAMING, Topics.workflowEvents),
      startMessageId: 'latest',
    });
    this.done = this.follow(reader);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  percentile(p: number): number {
    const sorted = [...this.lags].sort((a, b) => a - b);
    return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  }

  private async follow(reader: Reader): Promise<void> {
    while (!this.stopped) {
      const message = await reader.readNext(500).catch(() => null);
      if (message && message.properties[EnvelopeProperties.region] === 'us-east')
        this.lags.push(Date.now() - message.publishTime);
    }
    await reader.close().catch(() => undefined);
  }
}

async function hasAdoption(bus: EventBus): Promise<boolean> {
  const reader = await bus.createReader({ topic: qualifyTopic(NAMING, Topics.regions), startMessageId: 'earliest' });
  try {
    while (await reader.hasMessageAvailable()) {
      const message = await reader.readNext(2_000);
      if (message?.properties[EnvelopeProperties.eventType] === RegionAdoptedV1.type) return true;
    }
    return false;
  } finally {
    await reader.close();
  }
}

/** The topics a workflow's story is told on, printed for a workflow that went astray. */
const TRACED_TOPICS = [
  Topics.workflowEvents,
  Topics.workflowTimers,
  Topics.taskResults,
  Topics.marketAsks,
  Topics.marketBids,
  Topics.marketFills,
  Topics.timers,
];

/** Prints every event of `ids` in a region's log (time, topic, type, publisher's region, home, ids in its data). */
async function traceInLog(bus: EventBus, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const wanted = new Set(ids);
  const lines: [number, string][] = [];
  for (const topic of TRACED_TOPICS) {
    const reader = await bus.createReader({ topic: qualifyTopic(NAMING, topic), startMessageId: 'earliest' });
    try {
      while (await reader.hasMessageAvailable()) {
        const message = await reader.readNext(5_000);
        if (!message) break;
        const p = message.properties;
        const correlationId = p[EnvelopeProperties.correlationId] ?? '';
        if (!wanted.has(correlationId)) continue;
        const data = (JSON.parse(message.payload.toString('utf8')) as { data?: Record<string, unknown> }).data ?? {};
        const named = ['taskId', 'askId', 'fillId', 'workerId', 'stepPath', 'attempt', 'reason', 'error']
          .filter((field) => data[field] !== undefined)
          .map((field) => `${field}=${String(data[field]).slice(0, 120)}`);
        lines.push([
          message.publishTime,
          `    ${correlationId.slice(-12)} ${new Date(message.publishTime).toISOString().slice(11, 23)} ${topic} ` +
            `${p[EnvelopeProperties.eventType]} region=${p[EnvelopeProperties.region]} home=${p[EnvelopeProperties.home]} ${named.join(' ')}`,
        ]);
      }
    } finally {
      await reader.close();
    }
  }
  log(`  their events in eu-west's log:`);
  for (const [, line] of lines.sort((a, b) => a[0] - b[0])) console.log(line);
}

/** Task id → runs, per region of the workers that ran it. */
async function runsByRegion(ledger: StateStore): Promise<Record<RegionName, Record<string, string>>> {
  return {
    'us-east': await ledger.hgetall(LEDGER_KEYS.runsIn('us-east')),
    'eu-west': await ledger.hgetall(LEDGER_KEYS.runsIn('eu-west')),
  };
}

/** Retries `action` for up to a minute: a broker just started may refuse a moment longer. */
async function retrying(action: () => Promise<void>): Promise<void> {
  for (const until = Date.now() + 60_000; ; await sleep(2_000)) {
    try {
      return await action();
    } catch (error) {
      if (Date.now() > until) throw error;
    }
  }
}

/** Names each duplicated unit of work and the work keys it was applied under. */
async function explainDuplicates(ledger: StateStore, applied: Readonly<Record<string, string>>): Promise<void> {
  const duplicated = Object.keys(applied).filter((unit) => Number(applied[unit]) > 1);
  if (duplicated.length === 0) return;
  const first = await ledger.hgetall(LEDGER_KEYS.first);
  for (const unit of duplicated) {
    const keys = Object.keys(first).filter((key) => `${key.split(':')[0]}/${first[key]}` === unit);
    log(`  duplicate effect: ${unit} applied ${applied[unit]} times, under work keys ${keys.join(', ')}`);
  }
}

async function main(): Promise<number> {
  mkdirSync(LOG_DIR, { recursive: true });
  const east = new Region('us-east', CONFIG.usEast, CONFIG.agentPortBase);
  const west = new Region('eu-west', CONFIG.euWest, CONFIG.agentPortBase + ROLES.length);
  const buses: EventBus[] = [];
  let ledger: StateStore | undefined;
  const counts = {
    submitted: 0,
    adopted: 0,
    completed: 0,
    lost: 0,
    duplicates: 0,
    wrong: 0,
    rerun: 0,
    lateRerun: 0,
    adoptionS: 0,
  };
  const probe = new LagProbe();
  try {
    const built = Date.now();
    compileApps(AGENT_APPS, BUILD_DIR);
    log(`built the agents into ${BUILD_DIR} (${Date.now() - built} ms)`);
    await east.redis.start();
    await west.redis.start();
    // One after the other: two JVMs starting at once on a small machine can each miss the timeout.
    for (const region of [east, west]) {
      const up = await region.broker.start();
      log(`${region.name}: Pulsar :${region.broker.webPort} up in ${up.durationMs} ms, redis :${region.redis.port}`);
    }
    const joined = await bootstrapGeoReplication({
      webUrls: [east.broker.webUrl, west.broker.webUrl],
      tenant: NAMING.tenant,
      namespaces: [NAMING.namespace],
    });
    log(`joined: ${joined.changes.length} changes`);
    const eastAdmin = new PulsarAdmin({ webUrl: east.broker.webUrl });
    if (CONFIG.replicationRate > 0) {
      await eastAdmin.setReplicatorDispatchRate(NAMING.tenant, NAMING.namespace, CONFIG.replicationRate);
      log(`us-east replicates at most ${CONFIG.replicationRate} messages/s per topic (GEO_REPLICATION_RATE)`);
    }
    ledger = await createStateStore({ redisUrl: west.redis.url, keyPrefix: LEDGER_PREFIX });
    east.makeAgents(west, west.redis.url);
    west.makeAgents(east, west.redis.url);
    await east.startAgents();
    await west.startAgents();
    log(`agents up: ${[...east.agents, ...west.agents].map((a) => a.name).join(', ')}`);
    const westBus = new PulsarWsEventBus({ webUrl: west.broker.webUrl });
    buses.push(westBus);
    await probe.start(westBus);

    // Submit every workflow to us-east.
    // Submitted SUBMIT_LANES at a time, so that many are under way when us-east is lost.
    const workflows: Submitted[] = [];
    let next = 0;
    const lane = async () => {
      for (let i = next++; i < CONFIG.workflows; i = next++) {
        const scenario = SCENARIOS[i % SCENARIOS.length];
        workflows.push({ id: await submit(east.orchestratorUrl, scenario, i), scenario });
      }
    };
    await Promise.all(Array.from({ length: CONFIG.submitLanes }, lane));
    counts.submitted = workflows.length;
    log(`${workflows.length} workflows submitted to us-east`);
    // While they run: us-east is lost once some ended.
    const loseBy = Date.now() + CONFIG.waitMs;
    while (workflows.filter((w) => isTerminal(w.status)).length < CONFIG.loseAfterEnded && Date.now() < loseBy)
      await followAll(east.orchestratorUrl, workflows, Date.now() + 1);
    const endedInEast = workflows.filter((w) => isTerminal(w.status)).length;
    log(`losing us-east with ${endedInEast} of ${workflows.length} ended: SIGKILL of its agents and its broker`);
    await Promise.all(east.agents.map((a) => a.kill()));
    await east.broker.kill();
    await probe.stop();

    const westState = await createStateStore({ redisUrl: west.redis.url, keyPrefix: STATE_PREFIX });
    const adoptionStarted = Date.now();
    const adoption = await adoptRegion({
      bus: westBus,
      state: westState,
      naming: NAMING,
      lost: 'us-east',
      adoptedBy: 'eu-west',
      requestedBy: 'geo-suite',
      env: { MESH_BOARDS: 'default' },
      // The skills the agents know (the rebuilt aggregator combines with them; nothing runs them).
      skills: faultSkillRegistry(
        new EffectLedger(() => createStateStore({ redisUrl: west.redis.url, keyPrefix: LEDGER_PREFIX })),
      ),
    });
    await westState.close();
    counts.adoptionS = (Date.now() - adoptionStarted) / 1000;
    counts.adopted = adoption.workflows.length;
    log(
      `eu-west adopted ${adoption.home}: ${adoption.workflows.length} running, ${adoption.reissuedTasks} tasks and ${adoption.reissuedAsks} asks re-issued, ` +
        `${adoption.publishedOutputs} outputs published, in ${counts.adoptionS.toFixed(1)} s`,
    );
    for (const w of workflows) w.status = undefined;
    await followInLog(westBus, workflows, Date.now() + CONFIG.waitMs, 45_000);
    const endedInWest = workflows.filter((w) => isTerminal(w.status)).length;
    log(`eu-west sees ${endedInWest} of ${workflows.length} ended`);

    // Fail-back: us-east's broker returns; its agents start once it has the adoption.
    const runsAtReturn = await runsByRegion(ledger);
    const back = await east.broker.up();
    log(`us-east's broker up again in ${back.durationMs} ms; waiting for the adoption to reach it`);
    if (CONFIG.replicationRate > 0)
      await retrying(() => eastAdmin.setReplicatorDispatchRate(NAMING.tenant, NAMING.namespace, null));
    const eastBus = new PulsarWsEventBus({ webUrl: east.broker.webUrl });
    buses.push(eastBus);
    const until = Date.now() + 240_000;
    // The broker takes a moment to serve after `up`: a refused connection is "not yet".
    while (!(await hasAdoption(eastBus).catch(() => false))) {
      if (Date.now() > until) {
        const rows = await replicationLag(
          new PulsarAdmin({ webUrl: west.broker.webUrl }),
          NAMING.tenant,
          NAMING.namespace,
        );
        for (const row of rows.filter((r) => r.backlog > 0 || !r.connected))
          log(`  ${row.from} → ${row.to} ${row.topic}: backlog ${row.backlog}, connected ${row.connected}`);
        copyFileSync(east.broker.logFile, join(LOG_DIR, 'us-east-broker.log'));
        throw new Error('the adoption never reached us-east (its broker log: us-east-broker.log in the run dir)');
      }
      await sleep(2_000);
    }
    await east.startAgents();
    log('us-east back: broker up, adoption replicated, agents started');
    // What us-east had not replicated when lost replicates now: eu-west (its adopter) takes it.
    await followInLog(westBus, workflows, Date.now() + CONFIG.waitMs);
    const fresh: Submitted[] = [];
    for (let i = 0; i < CONFIG.afterFailBack; i++) {
      const scenario = SCENARIOS[0];
      fresh.push({ id: await submit(east.orchestratorUrl, scenario, CONFIG.workflows + i), scenario });
    }
    await followAll(east.orchestratorUrl, fresh, Date.now() + 120_000);
    const runsAfter = await runsByRegion(ledger);
    // Tasks of the workflows submitted before the loss, run after us-east's return. In us-east: none
    // may run (eu-west owns them). In eu-west: the ones it had run already, delivered again by
    // replication's late events — same task id, so their effects stay once (counted apart below).
    const before = new Set(workflows.map((w) => w.id));
    const ranSince = (region: RegionName) =>
      Object.keys(runsAfter[region]).filter(
        (task) => before.has(task.split(':')[0]) && runsAfter[region][task] !== runsAtReturn[region][task],
      );
    const ranBefore = (task: string) =>
      Number(runsAtReturn['us-east'][task] ?? 0) + Number(runsAtReturn['eu-west'][task] ?? 0) > 0;
    counts.rerun = ranSince('us-east').length;
    counts.lateRerun = ranSince('eu-west').filter(ranBefore).length;
    for (const task of ranSince('us-east')) log(`  us-east ran a task of a workflow it no longer owns: ${task}`);

    for (const w of [...workflows, ...fresh]) {
      if (!isTerminal(w.status)) counts.lost++;
      else if (w.status !== w.scenario.intended) counts.wrong++;
      else counts.completed++;
    }
    const astray = [...workflows, ...fresh].filter((x) => !isTerminal(x.status) || x.status !== x.scenario.intended);
    for (const w of astray)
      log(
        `  ${w.id} ${w.scenario.pattern}: ${w.scenario.name}: ${w.status ?? 'never seen'} (intended ${w.scenario.intended})`,
      );
    await traceInLog(
      westBus,
      astray.map((w) => w.id),
    );
    const applied = await ledger.hgetall(LEDGER_KEYS.applied);
    counts.duplicates = Object.values(applied).reduce((sum, n) => sum + Math.max(0, Number(n) - 1), 0);
    await explainDuplicates(ledger, applied);
  } finally {
    await probe.stop().catch(() => undefined);
    await ledger?.close().catch(() => undefined);
    await Promise.allSettled(buses.map((bus) => bus.close()));
    await Promise.allSettled([...east.agents, ...west.agents].map((a) => a.stop()));
    await Promise.allSettled([east.broker.dispose(), west.broker.dispose()]);
    await Promise.allSettled([east.redis.dispose(), west.redis.dispose()]);
  }
  const c = counts;
  console.log(
    `geo: ${c.submitted} submitted, ${c.adopted} adopted, ${c.completed} completed, lost ${c.lost}, ` +
      `duplicate effects ${c.duplicates}, adoption ${c.adoptionS.toFixed(1)} s, ` +
      `replication lag p50/p99 ${probe.percentile(50)}/${probe.percentile(99)} ms` +
      ` (wrong status ${c.wrong}, adopted tasks run in us-east after fail-back ${c.rerun},` +
      ` tasks run again in eu-west by late replication ${c.lateRerun})`,
  );
  return c.lost > 0 || c.duplicates > 0 || c.wrong > 0 || c.rerun > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
