import type { EventBus } from '@agent-mesh/bus';
import {
  createMeshEventRegistry,
  EnvelopeProperties,
  envelopeProperties,
  MarketAskExpiredV1,
  MarketAskV1,
  MarketBidV1,
  MarketWindowCloseV1,
  MarketFillV1,
  qualifyTopic,
  RegionAdoptedV1,
  TaskAssignedV1,
  TaskCompletedV1,
  TaskFailedV1,
  Topics,
  uuidv7,
  type TopicNaming,
} from '@agent-mesh/contracts';
import { homeOf, RegionHoming } from '@agent-mesh/nest-pulsar';
import type { SkillRegistry } from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';
import { asPublished, homeOfMessage, readTopic, type LoggedMessage } from './event-log';
import { taskTopicsOf } from './log-stamps';
import { rebuildWorkflows, type PublishedOutput, type RebuildReport, type ReplayedRole } from './rebuild';
import { REPLAYED_ROLES } from './roles';
import { findRunningWorkflows } from './running';

export interface AdoptionOptions {
  /** The surviving region's bus (its cluster holds the lost region's replicated log). */
  readonly bus: EventBus;
  /** The surviving region's state store: the adopted workflows' state is rebuilt there. */
  readonly state: StateStore;
  readonly naming: TopicNaming;
  /** The lost region. */
  readonly lost: string;
  /** The region that adopts its workflows (this one). */
  readonly adoptedBy: string;
  /** Who asked, as the adoption event says. */
  readonly requestedBy: string;
  /** Settings of the rebuilt roles (see RebuildOptions.env). */
  readonly env?: Readonly<Record<string, string>>;
  readonly skills?: SkillRegistry;
  readonly roles?: readonly ReplayedRole[];
}

export interface AdoptionReport {
  /** The home adopted: the lost region at its epoch. */
  readonly home: string;
  /** Its workflows the log says were running: rebuilt here and carried on. */
  readonly workflows: readonly string[];
  /** Tasks assigned with no result in the log, published again with their task ids. */
  readonly reissuedTasks: number;
  /** Market asks with no fill or expiry in the log, published again with their ask ids and deadlines. */
  readonly reissuedAsks: number;
  /** Events the rebuilt handlers made that the lost region never published, published now. */
  readonly publishedOutputs: number;
  readonly rebuild: RebuildReport;
}

/**
 * Fail-over (docs/geo.md): the surviving region takes over the lost region's workflows. It
 * rebuilds the state of the ones running (from the replicated log, rebuildWorkflows), says so on
 * `mesh.regions` (region.adopted: from then on every agent of the set knows whose they are), then
 * carries them on: what the rebuilt handlers decided that the lost region never published, and
 * every task assigned with no result in the log and every market ask with no fill or expiry (its
 * bidding window opens again in the adopter), are
 * published again under their own ids (task ids, ask ids), homed in the adopter so its agents take
 * them at once. A task the lost region had run but
 * whose result never replicated runs again with the same task id: skills make its effect once.
 */
export async function adoptRegion(options: AdoptionOptions): Promise<AdoptionReport> {
  const registry = createMeshEventRegistry();
  const homing = await RegionHoming.load(options.bus, registry, options.naming, options.adoptedBy);
  const epoch = homing.epochOf(options.lost);
  await homing.close();
  const home = homeOf(options.lost, epoch);
  const workflows = await runningHomedAt(options.bus, options.naming, home);
  const asks = await openAsks(options.bus, options.naming, workflows);
  const open = new Set(asks.map((ask) => ask.askId));
  const rebuild = await rebuildWorkflows({
    bus: options.bus,
    state: options.state,
    roles: options.roles ?? REPLAYED_ROLES,
    workflows,
    env: { ...options.env, PULSAR_TENANT: options.naming.tenant, PULSAR_NAMESPACE: options.naming.namespace },
    skills: options.skills,
    // Bids for an open ask came from the lost region's workers (the survivor's take no other
    // region's asks): they cannot do the work, so the rebuilt market maker must not fill with them;
    // nor close its bidding window, which opens again at the survivor's first crossing bid.
    skip: (logged) =>
      (logged.type === MarketBidV1.type || logged.type === MarketWindowCloseV1.type) &&
      open.has(dataField(logged, 'askId') ?? ''),
  });
  const { envelope, payload } = registry.createEncoded(
    RegionAdoptedV1,
    { region: options.lost, epoch, adoptedBy: options.adoptedBy, requestedBy: options.requestedBy },
    { source: options.requestedBy, region: options.adoptedBy },
    { correlationId: uuidv7(), home: options.adoptedBy },
  );
  await options.bus.publish(qualifyTopic(options.naming, Topics.regions), {
    payload,
    key: options.lost,
    properties: envelopeProperties(envelope),
  });
  const outstanding = await outstandingTasks(options.bus, options.naming, workflows);
  const rehomed = [
    ...rebuild.unloggedOutputs,
    ...outstanding,
    ...asks.map((ask) => ask.output),
    ...rebuild.pendingTimers,
  ].map((o) => rehome(o, options.adoptedBy));
  for (const output of rehomed) await options.bus.publish(output.topic, output.message);
  return {
    home,
    workflows,
    reissuedTasks: outstanding.length,
    reissuedAsks: asks.length,
    publishedOutputs: rebuild.unloggedOutputs.length,
    rebuild,
  };
}

/** The workflows running (per the log) that were begun in `home`. */
async function runningHomedAt(bus: EventBus, naming: TopicNaming, home: string): Promise<string[]> {
  const running = new Set(await findRunningWorkflows(bus, naming));
  const homed = new Set<string>();
  await readTopic(bus, qualifyTopic(naming, Topics.workflowEvents), ({ correlationId, message }) => {
    if (correlationId && running.has(correlationId) && homeOfMessage(message.properties) === home)
      homed.add(correlationId);
    return false;
  });
  return [...running].filter((id) => homed.has(id));
}

const RESULT_TOPICS = [Topics.taskResults, Topics.sagaTaskResults, Topics.solverTaskResults];
const RESULT_TYPES: ReadonlySet<string> = new Set([TaskCompletedV1.type, TaskFailedV1.type]);

/** The last assignment of each task of `workflows` that has no result in the log, as it was published. */
async function outstandingTasks(
  bus: EventBus,
  naming: TopicNaming,
  workflows: readonly string[],
): Promise<PublishedOutput[]> {
  if (workflows.length === 0) return [];
  const wanted = new Set(workflows);
  const keep = (m: LoggedMessage) => m.correlationId !== undefined && wanted.has(m.correlationId);
  const workflowLog = await readTopic(bus, qualifyTopic(naming, Topics.workflowEvents), keep);
  const taskTopics = taskTopicsOf(workflowLog, qualifyTopic(naming, Topics.workflowEvents));
  const answered = new Set<string>();
  for (const topic of RESULT_TOPICS)
    for (const m of await readTopic(bus, qualifyTopic(naming, topic), keep))
      if (m.type && RESULT_TYPES.has(m.type)) answered.add(taskIdOf(m) ?? '');
  const assigned = new Map<string, PublishedOutput>();
  for (const topic of taskTopics)
    for (const m of await readTopic(bus, topic, keep)) {
      const taskId = m.type === TaskAssignedV1.type ? taskIdOf(m) : undefined;
      if (taskId && !answered.has(taskId)) assigned.set(taskId, { topic, message: asPublished(m) });
    }
  return [...assigned.values()];
}

/**
 * The market asks of `workflows` still outstanding in the log, as they were published: no expiry,
 * and either no fill or a fill whose work (task `<askId>:fill`) has no result — its winner was one
 * of the lost region's workers (the survivor's take no other region's asks), gone with it.
 * Published again (same event, same ask id, same `expiresAt`: the deadline left), they reach the
 * survivor's bidders and market maker, which takes an ask it already holds (rebuilt or replicated)
 * once by its id and puts it in its book with the bids that come; one whose deadline passed
 * meanwhile is expired by its expiry check. The winner of the re-issued ask runs the work under
 * the same task id, so its effect stays once.
 */
async function openAsks(
  bus: EventBus,
  naming: TopicNaming,
  workflows: readonly string[],
): Promise<{ askId: string; output: PublishedOutput }[]> {
  if (workflows.length === 0) return [];
  const wanted = new Set(workflows);
  const keep = (m: LoggedMessage) => m.correlationId !== undefined && wanted.has(m.correlationId);
  const answered = new Set<string>();
  for (const m of await readTopic(bus, qualifyTopic(naming, Topics.taskResults), keep))
    if (m.type && RESULT_TYPES.has(m.type)) answered.add(taskIdOf(m) ?? '');
  const settled = new Set<string>();
  for (const m of await readTopic(bus, qualifyTopic(naming, Topics.marketFills), keep)) {
    const askId = dataField(m, 'askId') ?? '';
    if (m.type === MarketAskExpiredV1.type || (m.type === MarketFillV1.type && answered.has(`${askId}:fill`)))
      settled.add(askId);
  }
  const open = new Map<string, PublishedOutput>();
  const topic = qualifyTopic(naming, Topics.marketAsks);
  for (const m of await readTopic(bus, topic, keep)) {
    const askId = m.type === MarketAskV1.type ? dataField(m, 'askId') : undefined;
    if (askId && !settled.has(askId)) open.set(askId, { topic, message: asPublished(m) });
  }
  return [...open].map(([askId, output]) => ({ askId, output }));
}

function taskIdOf(logged: LoggedMessage): string | undefined {
  return dataField(logged, 'taskId');
}

/** A string field of the logged event's `data`. */
function dataField(logged: LoggedMessage, field: string): string | undefined {
  try {
    const data = (JSON.parse(logged.message.payload.toString('utf8')) as { data?: Record<string, unknown> }).data;
    const value = data?.[field];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The same event (id, task id, cause) homed in `region`, whose agents take it whatever they heard of the adoption yet. */
function rehome(output: PublishedOutput, region: string): PublishedOutput {
  const envelope = JSON.parse(output.message.payload.toString()) as Record<string, unknown>;
  return {
    topic: output.topic,
    message: {
      ...output.message,
      payload: JSON.stringify({ ...envelope, home: region }),
      properties: { ...output.message.properties, [EnvelopeProperties.home]: region },
    },
  };
}
