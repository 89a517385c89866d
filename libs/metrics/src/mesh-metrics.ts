import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BrokerStats } from '@agent-mesh/contracts';
import type { ReplicationLag } from '@agent-mesh/pulsar-admin';
import type { PublishedEvent, SettledMessage } from '@agent-mesh/nest-pulsar';

/** Workflows per status, as the orchestrator's index counts them. */
export type WorkflowCounts = Readonly<Record<string, number>>;

/** Seconds: a handler or skill from 1 ms to 2 minutes. */
const WORK_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Seconds: a publish from 0.1 ms (memory bus) to 10 s (a broker under trouble). */
const PUBLISH_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** `persistent://agentmesh/mesh/tasks.keywords` → `tasks.keywords`: labels stay short and stable. */
export function shortTopic(topic: string): string {
  return topic.slice(topic.lastIndexOf('/') + 1);
}

/**
 * The Prometheus series of one agent process (docs/operations.md lists them): one registry per
 * app, so several agents in one process (tests, the embedded mesh) each have their own.
 */
export class MeshMetrics {
  readonly registry = new Registry();
  private readonly messages = new Counter({
    name: 'mesh_messages_total',
    help: 'Messages received and settled, by topic, subscription, event type and outcome (acked, nacked, dead_lettered, retried)',
    labelNames: ['topic', 'subscription', 'type', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly handlerDuration = new Histogram({
    name: 'mesh_handler_duration_seconds',
    help: 'Time a handler took, by event type (failed runs included)',
    labelNames: ['type'] as const,
    buckets: WORK_BUCKETS,
    registers: [this.registry],
  });
  private readonly publishDuration = new Histogram({
    name: 'mesh_publish_duration_seconds',
    help: 'Time a publish took until the broker confirmed it, by topic and outcome (ok, error)',
    labelNames: ['topic', 'outcome'] as const,
    buckets: PUBLISH_BUCKETS,
    registers: [this.registry],
  });
  private readonly skillDuration = new Histogram({
    name: 'mesh_skill_duration_seconds',
    help: 'Time a skill took on a task, by skill and outcome (ok, error, timeout, cancelled)',
    labelNames: ['skill', 'outcome'] as const,
    buckets: WORK_BUCKETS,
    registers: [this.registry],
  });
  private readonly backlog = new Gauge({
    name: 'mesh_subscription_backlog',
    help: 'Messages not yet acknowledged, per subscription, at the last broker sample (sampling role only)',
    labelNames: ['topic', 'subscription'] as const,
    registers: [this.registry],
  });
  private readonly msgRateOut = new Gauge({
    name: 'mesh_subscription_msg_rate_out',
    help: 'Messages per second delivered to a subscription, at the last broker sample (sampling role only)',
    labelNames: ['topic', 'subscription'] as const,
    registers: [this.registry],
  });
  private readonly consumers = new Gauge({
    name: 'mesh_subscription_consumers',
    help: 'Consumers connected to a subscription, at the last broker sample (sampling role only)',
    labelNames: ['topic', 'subscription'] as const,
    registers: [this.registry],
  });
  private readonly deadLetters = new Gauge({
    name: 'mesh_dead_letters',
    help: 'Dead letters waiting (backlog of the mesh-dlq subscriptions), at the last broker sample (sampling role only)',
    registers: [this.registry],
  });
  private readonly lastSample = new Gauge({
    name: 'mesh_broker_stats_timestamp_seconds',
    help: 'When the broker was last sampled (Unix time; sampling role only)',
    registers: [this.registry],
  });
  private readonly llmTokens = new Counter({
    name: 'mesh_llm_tokens_total',
    help: "Model tokens the workflows' tasks reported using, by skill and kind (prompt, completion); counted once per task result (orchestrator only)",
    labelNames: ['skill', 'kind'] as const,
    registers: [this.registry],
  });
  private readonly replicationBacklog = new Gauge({
    name: 'mesh_geo_replication_backlog',
    help: 'Messages written in this region (from) not yet sent to the peer region (to), per topic, at the last sample (sampling role, geo set only)',
    labelNames: ['topic', 'from', 'to'] as const,
    registers: [this.registry],
  });
  private readonly replicationDelay = new Gauge({
    name: 'mesh_geo_replication_delay_seconds',
    help: 'Age of the oldest message not yet sent to the peer region, per topic; 0 when none waits (sampling role, geo set only)',
    labelNames: ['topic', 'from', 'to'] as const,
    registers: [this.registry],
  });
  private readonly replicationConnected = new Gauge({
    name: 'mesh_geo_replication_connected',
    help: "1 when the topic's replicator reaches the peer region's cluster, 0 when not (sampling role, geo set only)",
    labelNames: ['topic', 'from', 'to'] as const,
    registers: [this.registry],
  });
  private workflowCounts?: () => Promise<WorkflowCounts>;

  constructor(
    /** The messages being handled now (the transport's in-flight count). */
    inFlight: () => number,
    /**
     * Labels on every series: role, agent (`<role>@<instance>`, as in heartbeats) and region. Not
     * `instance`: Prometheus sets that one itself, to the scraped target.
     */
    labels: Readonly<Record<string, string>>,
  ) {
    this.registry.setDefaultLabels(labels);
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'mesh_in_flight',
      help: 'Messages being handled right now',
      registers: [this.registry],
      collect() {
        this.set(inFlight());
      },
    });
    const counts = () => this.workflowCounts?.();
    new Gauge({
      name: 'mesh_workflows',
      help: "Workflows by status, from the orchestrator's status index in Redis (orchestrator only)",
      labelNames: ['status'] as const,
      registers: [this.registry],
      async collect() {
        const byStatus = await counts();
        for (const [status, n] of Object.entries(byStatus ?? {})) this.set({ status }, n);
      },
    });
  }

  messageSettled(message: SettledMessage): void {
    const { subscription, type, outcome, handlerSeconds } = message;
    this.messages.inc({ topic: shortTopic(message.topic), subscription, type, outcome });
    if (handlerSeconds !== undefined) this.handlerDuration.observe({ type }, handlerSeconds);
  }

  published(event: PublishedEvent): void {
    this.publishDuration.observe({ topic: shortTopic(event.topic), outcome: event.ok ? 'ok' : 'error' }, event.seconds);
  }

  skillRan(skill: string, outcome: 'ok' | 'error' | 'timeout' | 'cancelled', seconds: number): void {
    this.skillDuration.observe({ skill, outcome }, seconds);
  }

  /** What a task's model calls used (`task.completed`'s usage), counted once per result. */
  llmTokensUsed(skill: string, usage: { readonly promptTokens: number; readonly completionTokens: number }): void {
    this.llmTokens.inc({ skill, kind: 'prompt' }, usage.promptTokens);
    this.llmTokens.inc({ skill, kind: 'completion' }, usage.completionTokens);
  }

  /** Where `mesh_workflows` comes from (the orchestrator's index); read on each scrape. */
  countWorkflowsWith(source: () => Promise<WorkflowCounts>): void {
    this.workflowCounts = source;
  }

  /** The figures of a broker sample; subscriptions gone since the last one drop out. */
  brokerSampled(stats: BrokerStats): void {
    for (const gauge of [this.backlog, this.msgRateOut, this.consumers]) gauge.reset();
    for (const s of stats.subscriptions) {
      const labels = { topic: s.topic, subscription: s.subscription };
      this.backlog.set(labels, s.backlog);
      this.msgRateOut.set(labels, s.msgRateOut);
      if (s.consumers !== undefined) this.consumers.set(labels, s.consumers);
    }
    this.deadLetters.set(stats.deadLetters);
    this.lastSample.set(Date.parse(stats.at) / 1000);
  }

  /** The geo-replication rows of a sample (one per topic and direction); topics gone since the last one drop out. */
  replicationSampled(rows: readonly ReplicationLag[]): void {
    for (const gauge of [this.replicationBacklog, this.replicationDelay, this.replicationConnected]) gauge.reset();
    for (const row of rows) {
      const labels = { topic: shortTopic(row.topic), from: row.from, to: row.to };
      this.replicationBacklog.set(labels, row.backlog);
      this.replicationDelay.set(labels, row.delaySeconds);
      this.replicationConnected.set(labels, row.connected ? 1 : 0);
    }
  }

  /** The exposition text for `GET /metrics`. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
