import { DEAD_LETTER_SUBSCRIPTION, type MemoryEventBus } from '@agent-mesh/bus';
import {
  qualifyTopic,
  Topics,
  type BrokerStats,
  type SubscriptionStats,
  type TopicNaming,
} from '@agent-mesh/contracts';
import type { PulsarAdmin } from '@agent-mesh/pulsar-admin';
import { shortTopic } from './mesh-metrics';

/** Where broker figures come from: Pulsar's admin API, or the in-process memory broker. */
export interface BrokerStatsSource {
  readonly broker: BrokerStats['broker'];
  subscriptions(): Promise<SubscriptionStats[]>;
}

/**
 * How long `mesh.agents` and `mesh.stats` keep their messages: an hour, whatever the namespace
 * keeps (the mesh's event log is kept forever; heartbeats need not be). Bounded by time only: a
 * size must exceed the broker's backlog quota, which varies.
 */
export const OBSERVABILITY_RETENTION = { minutes: 60, sizeMB: -1 } as const;

/** Gives the heartbeat and stats topics their own retention (OBSERVABILITY_RETENTION), creating them if needed. */
export async function limitObservabilityRetention(admin: PulsarAdmin, naming: TopicNaming): Promise<void> {
  for (const topic of [Topics.agents, Topics.stats].map((name) => qualifyTopic(naming, name))) {
    await admin.createTopic(topic);
    await admin.setTopicRetention(topic, OBSERVABILITY_RETENTION);
  }
}

/** The stats event of one sample: the dead letters are the backlog of the `mesh-dlq` subscriptions. */
export async function sampleBroker(source: BrokerStatsSource, now = new Date()): Promise<BrokerStats> {
  const subscriptions = await source.subscriptions();
  const deadLetters = subscriptions
    .filter((s) => s.subscription === DEAD_LETTER_SUBSCRIPTION)
    .reduce((sum, s) => sum + s.backlog, 0);
  return { at: now.toISOString(), broker: source.broker, subscriptions, deadLetters };
}

/**
 * Every durable subscription of the mesh's namespace, from the topics' admin stats (one request
 * per topic). Readers' non-durable subscriptions are left out: they hold no backlog.
 */
export class PulsarStatsSource implements BrokerStatsSource {
  readonly broker = 'pulsar';

  constructor(
    private readonly admin: PulsarAdmin,
    private readonly naming: TopicNaming,
  ) {}

  async subscriptions(): Promise<SubscriptionStats[]> {
    const topics = await this.admin.listTopics(this.naming.tenant, this.naming.namespace);
    const perTopic = await Promise.all(
      topics.map(async (topic) => {
        const stats = await this.admin.topicStats(topic).catch(() => undefined); // deleted meanwhile
        return Object.entries(stats?.subscriptions ?? {})
          .filter(([, s]) => s.isDurable)
          .map(([subscription, s]): SubscriptionStats => ({
            topic: shortTopic(topic),
            subscription,
            backlog: s.msgBacklog,
            msgRateOut: s.msgRateOut,
            consumers: s.consumers.length,
          }));
      }),
    );
    return perTopic.flat().sort(bySubscription);
  }
}

/**
 * The memory broker's subscriptions under the mesh's namespace. Its delivery rate is worked out
 * from the deliveries counted between two samples (0 on the first).
 */
export class MemoryStatsSource implements BrokerStatsSource {
  readonly broker = 'memory';
  private previous?: { readonly at: number; readonly delivered: ReadonlyMap<string, number> };

  constructor(
    private readonly bus: MemoryEventBus,
    private readonly naming: TopicNaming,
  ) {}

  async subscriptions(): Promise<SubscriptionStats[]> {
    const prefix = `persistent://${this.naming.tenant}/${this.naming.namespace}/`;
    const at = performance.now();
    const delivered = new Map<string, number>();
    const out = this.bus
      .subscriptionStats()
      .filter((s) => s.topic.startsWith(prefix))
      .map((s): SubscriptionStats => {
        const id = `${s.topic}|${s.subscription}`;
        delivered.set(id, s.delivered);
        const before = this.previous?.delivered.get(id);
        const seconds = this.previous ? (at - this.previous.at) / 1000 : 0;
        const rate = before !== undefined && seconds > 0 ? Math.max(0, s.delivered - before) / seconds : 0;
        return {
          topic: shortTopic(s.topic),
          subscription: s.subscription,
          backlog: s.backlog,
          msgRateOut: rate,
          consumers: s.consumers,
        };
      });
    this.previous = { at, delivered };
    return out.sort(bySubscription);
  }
}

function bySubscription(a: SubscriptionStats, b: SubscriptionStats): number {
  return a.topic.localeCompare(b.topic) || a.subscription.localeCompare(b.subscription);
}
