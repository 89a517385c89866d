import { Module, type INestApplication, type LogLevel, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { EventBus, OutgoingMessage } from '@agent-mesh/bus';
import { EnvelopeProperties, uuidv7 } from '@agent-mesh/contracts';
import { MeshTransportServer } from '@agent-mesh/nest-pulsar';
import { MeshRuntimeModule, type MeshClock } from '@agent-mesh/runtime';
import type { SkillRegistry } from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';
import { asPublished, mergeInLogOrder, readTopic, type LoggedMessage } from './event-log';
import { LogStamps, taskTopicsOf, type UnmatchedOutput } from './log-stamps';
import { ReplayBus, type ReplayConsumer, type Settlement } from './replay-bus';
import { ReplayStateStore } from './replay-state-store';

/** A role whose Redis state a rebuild makes again: its agent module(s) and its keys. */
export interface ReplayedRole {
  /** The role's name, e.g. 'orchestrator' (its events' source is `<role>@replay-<run>`). */
  readonly role: string;
  /** The role's Nest module(s), as its app imports them: the rebuild runs their handlers. */
  readonly modules: readonly Type<unknown>[];
  /** Glob patterns of the keys this role keeps for one workflow (logical keys, no prefix). */
  readonly workflowKeys: (workflowId: string) => readonly string[];
}

export interface RebuildOptions {
  /** The mesh's bus: the log is read from it (readers from the earliest message). Nothing is published on it. */
  readonly bus: EventBus;
  /** The mesh's state store, where the roles' keys are rebuilt. */
  readonly state: StateStore;
  readonly roles: readonly ReplayedRole[];
  /** The workflows (correlation ids) to rebuild. */
  readonly workflows: readonly string[];
  /**
   * Settings of the rebuilt roles, as their apps take them (PULSAR_TENANT / PULSAR_NAMESPACE
   * name the topics, MESH_BOARDS the blackboards). Transport and Redis settings are not used.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** The skills the roles know (the orchestrator shapes outputs by them); default the built-in ones. */
  readonly skills?: SkillRegistry;
  /**
   * Events of the log not to replay (they are still read for the log's stamps): the adoption
   * leaves out bids the lost region's workers made for asks still open, which they cannot work.
   */
  readonly skip?: (logged: LoggedMessage) => boolean;
  /** The clock: a timer due after this has not fired yet and is left to fire live. Default Date.now. */
  readonly now?: () => number;
  /** Nest log levels of the rebuilt roles. Default errors and warnings. */
  readonly logLevels?: LogLevel[];
}

/** An event a rebuilt role's handler did not take (it failed every delivery, or found it invalid). */
export interface UnsettledEvent {
  readonly workflowId: string;
  readonly eventId?: string;
  readonly type?: string;
  readonly topic: string;
  readonly subscription: string;
  readonly settlement: Exclude<Settlement, 'ack'>;
}

export interface WorkflowRebuild {
  readonly workflowId: string;
  /** The workflow's events found on the replayed topics. */
  readonly events: number;
  /** Its keys deleted before the replay (whatever was left of them). */
  readonly deletedKeys: number;
  /** Timers set but not due yet: not replayed, they fire live. */
  readonly pendingTimers: number;
}

export interface RebuildReport {
  /** Names the run's markers (`replay:<runId>:…`). */
  readonly runId: string;
  /** The topics read, qualified. */
  readonly topics: readonly string[];
  readonly workflows: readonly WorkflowRebuild[];
  /** Handler calls made (one per event and subscription of a role that consumes its topic). */
  readonly deliveries: number;
  /** Events the rebuilt handlers tried to publish: dropped, their originals are in the log. */
  readonly dropped: number;
  readonly unsettled: readonly UnsettledEvent[];
  /**
   * Events the rebuilt handlers made that the log does not have: where a handler decided otherwise
   * than live (it saw events in another order than live, e.g. a timer that fired live while a
   * message published before it was still queued), that workflow's rebuilt state may differ. Empty
   * when every output the rebuild made is one live processing made.
   */
  readonly unmatchedOutputs: readonly UnmatchedOutput[];
  /**
   * The rebuilt workflows' events the handlers made that are not in the log, as they would have
   * been published: what live processing had not done yet when it stopped (a region lost before
   * it acted on an event). A rebuild publishes nothing; an adoption (adoptRegion) publishes these.
   */
  readonly unloggedOutputs: readonly PublishedOutput[];
  /**
   * The rebuilt workflows' timers (delayed messages) not due when the log was read, as published,
   * with their due time: left to fire live. An adoption publishes them again, because one that
   * falls due before the survivor's agents know of the adoption is passed over by them.
   */
  readonly pendingTimers: readonly PublishedOutput[];
}

/** A message as a rebuilt handler published it. */
export interface PublishedOutput {
  readonly topic: string;
  readonly message: OutgoingMessage;
}

/** The time the rebuilt handlers see: the time the mesh saw the event being replayed. */
class ReplayClock implements MeshClock {
  at?: number;
  now(): number {
    return this.at ?? Date.now();
  }
}

/** One rebuilt role: its app on a ReplayBus. */
interface RoleRun {
  readonly role: ReplayedRole;
  readonly app: INestApplication;
  readonly bus: ReplayBus;
}

/**
 * Rebuilds the roles' Redis state of some workflows from the log, with the roles' own
 * handlers: every role runs in an app of its own (as its process would), on a bus that hands
 * its subscriptions the workflows' events — read from the earliest message of each topic it
 * consumes, merged in the order the mesh saw them — and publishes nothing. The workflows'
 * keys are deleted first, then each event goes to every subscription of its topic, in turn,
 * and is settled as live (a handler that fails is called again, up to its subscription's
 * redeliveries). Markers are the run's own (ReplayStateStore). Timers not due yet are left to
 * fire live. Afterwards the live agents carry on from the rebuilt state.
 */
export async function rebuildWorkflows(options: RebuildOptions): Promise<RebuildReport> {
  const runId = uuidv7();
  const wanted = new Set(options.workflows);
  const runs: RoleRun[] = [];
  const stamps = new LogStamps();
  const clock = new ReplayClock();
  const keep = (m: LoggedMessage) => m.correlationId !== undefined && wanted.has(m.correlationId);
  try {
    for (const role of options.roles) runs.push(await startRole(role, { runId, stamps, clock }, options));
    const consumers = runs.flatMap((run) => run.bus.consumers);
    const topics = [...new Set(consumers.map((c) => c.topic))];
    const logs = await Promise.all(topics.map((topic) => readTopic(options.bus, topic, keep)));
    // The handlers' outputs take the log's ids and times: the events on the topics read, and the tasks assigned.
    const taskTopics = topics.length > 0 ? taskTopicsOf(logs.flat(), topics[0]).filter((t) => !topics.includes(t)) : [];
    stamps.add(logs.flat());
    const taskLogs = await Promise.all(taskTopics.map((topic) => readTopic(options.bus, topic, keep)));
    stamps.add(taskLogs.flat());
    const deleted = await deleteWorkflowKeys(options.state, options.roles, options.workflows);
    const now = (options.now ?? Date.now)();
    const unsettled: UnsettledEvent[] = [];
    const pending = new Map<string, number>();
    const pendingTimers: PublishedOutput[] = [];
    let deliveries = 0;
    // The task topics are merged in too, though no rebuilt role consumes them: an event must
    // come after its cause, and a task's result is caused by its assignment.
    for (const logged of mergeInLogOrder([...logs, ...taskLogs])) {
      const subscribed = consumers.filter((c) => c.topic === logged.message.topic);
      if (subscribed.length === 0 || options.skip?.(logged)) continue;
      const workflowId = logged.correlationId as string;
      if (logged.dueAt > now) {
        pending.set(workflowId, (pending.get(workflowId) ?? 0) + 1);
        pendingTimers.push({
          topic: logged.message.topic,
          message: { ...asPublished(logged), deliverAt: logged.dueAt },
        });
        continue;
      }
      clock.at = logged.dueAt;
      for (const consumer of subscribed) {
        deliveries += 1;
        const settlement = await deliver(consumer, logged);
        if (settlement !== 'ack') unsettled.push(unsettledOf(workflowId, logged, consumer, settlement));
      }
    }
    const counts = countByWorkflow(logs.flat());
    const published = runs.flatMap((run) => run.bus.published).filter((p) => wanted.has(correlationOf(p.message)));
    for (const output of published) stamps.checkData(output.topic, output.message.payload);
    const unloggedOutputs = await notInLog(options.bus, published, [...logs, ...taskLogs].flat(), keep);
    return {
      runId,
      topics,
      workflows: options.workflows.map((workflowId) => ({
        workflowId,
        events: counts.get(workflowId) ?? 0,
        deletedKeys: deleted.get(workflowId) ?? 0,
        pendingTimers: pending.get(workflowId) ?? 0,
      })),
      deliveries,
      dropped: runs.reduce((sum, run) => sum + run.bus.dropped, 0),
      unsettled,
      unmatchedOutputs: [...stamps.unmatched],
      unloggedOutputs,
      pendingTimers,
    };
  } finally {
    await Promise.allSettled(runs.map((run) => run.app.close()));
  }
}

function correlationOf(message: OutgoingMessage): string {
  return message.properties?.[EnvelopeProperties.correlationId] ?? '';
}

/** The outputs whose event (by id) is not on its topic in the log; topics not read yet are read. */
async function notInLog(
  bus: EventBus,
  outputs: readonly PublishedOutput[],
  read: readonly LoggedMessage[],
  keep: (m: LoggedMessage) => boolean,
): Promise<PublishedOutput[]> {
  const logged = new Set(read.map((m) => `${m.message.topic}|${m.eventId}`));
  const readTopics = new Set(read.map((m) => m.message.topic));
  for (const topic of new Set(outputs.map((o) => o.topic))) {
    if (readTopics.has(topic)) continue;
    for (const m of await readTopic(bus, topic, keep)) logged.add(`${topic}|${m.eventId}`);
  }
  return outputs.filter((o) => !logged.has(`${o.topic}|${o.message.properties?.[EnvelopeProperties.eventId]}`));
}

/** Starts a role's app on a ReplayBus and the run's state store, its subscriptions made but fed nothing yet. */
async function startRole(
  role: ReplayedRole,
  run: { readonly runId: string; readonly stamps: LogStamps; readonly clock: ReplayClock },
  options: RebuildOptions,
): Promise<RoleRun> {
  const { runId, stamps, clock } = run;
  const bus = new ReplayBus(options.bus);
  @Module({
    imports: [
      MeshRuntimeModule.forRoot({
        role: role.role,
        bus,
        stamps,
        clock,
        stateStore: new ReplayStateStore(options.state, runId, options.workflows),
        skills: options.skills,
        env: {
          ...options.env,
          MESH_TRANSPORT: 'memory',
          REDIS_URL: '',
          MESH_INSTANCE_ID: `replay-${runId.slice(-12)}`,
          // A rebuild publishes nothing: no spans of publishes that never happen in the workflows' traces.
          OTEL_EXPORTER_OTLP_ENDPOINT: '',
        },
      }),
      ...role.modules,
    ],
  })
  class ReplayedRoleModule {}

  const app = await NestFactory.create(ReplayedRoleModule, {
    abortOnError: false,
    logger: options.logLevels ?? ['error', 'warn'],
  });
  app.connectMicroservice({ strategy: app.get(MeshTransportServer) }, { inheritAppConfig: true });
  await app.startAllMicroservices();
  await app.init();
  return { role, app, bus };
}

/** Delivers one event to one subscription until it is settled; a nack is redelivered (at once) up to the subscription's limit. */
async function deliver(consumer: ReplayConsumer, logged: LoggedMessage): Promise<Settlement> {
  let settlement: Settlement = 'nack';
  for (let count = 0; count <= consumer.maxRedeliveries && settlement === 'nack'; count++) {
    settlement = await consumer.deliver({ ...logged.message, redeliveryCount: count });
  }
  return settlement;
}

/** Deletes what each role keeps of the workflows; returns how many keys per workflow. */
export async function deleteWorkflowKeys(
  state: StateStore,
  roles: readonly ReplayedRole[],
  workflows: readonly string[],
): Promise<Map<string, number>> {
  const deleted = new Map<string, number>();
  for (const workflowId of workflows) {
    const patterns = roles.flatMap((role) => role.workflowKeys(workflowId));
    const keys = [...new Set((await Promise.all(patterns.map((p) => state.keys(p)))).flat())];
    if (keys.length > 0) await state.apply(keys.map((key) => ({ op: 'del' as const, key })));
    deleted.set(workflowId, keys.length);
  }
  return deleted;
}

function countByWorkflow(messages: readonly LoggedMessage[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { correlationId } of messages)
    if (correlationId) counts.set(correlationId, (counts.get(correlationId) ?? 0) + 1);
  return counts;
}

function unsettledOf(
  workflowId: string,
  logged: LoggedMessage,
  consumer: ReplayConsumer,
  settlement: Exclude<Settlement, 'ack'>,
): UnsettledEvent {
  return {
    workflowId,
    eventId: logged.eventId,
    type: logged.type,
    topic: consumer.topic,
    subscription: consumer.subscription,
    settlement,
  };
}
