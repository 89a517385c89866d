import type { PulsarAdmin } from './pulsar-admin';

/** Geo-replication of one topic in one direction: from the cluster asked to a remote one. */
export interface ReplicationLag {
  /** Fully qualified topic name. */
  readonly topic: string;
  /** The cluster whose broker was asked (the sending side). */
  readonly from: string;
  /** The remote cluster the messages go to. */
  readonly to: string;
  /** Messages written in `from` and not yet sent to `to`. */
  readonly backlog: number;
  /** Messages per second sent to `to`. */
  readonly msgRateOut: number;
  /** Age of the oldest message not yet sent; 0 when the backlog is empty. */
  readonly delaySeconds: number;
  /** Whether the replicator is connected to `to` (a lost region shows false here, its backlog growing). */
  readonly connected: boolean;
}

/**
 * The replication lag of every topic of the namespace, per direction out of the cluster that
 * `admin` talks to (ask each cluster for the other directions). Topics that are not replicated
 * give no rows; a topic deleted while listing is skipped.
 */
export async function replicationLag(admin: PulsarAdmin, tenant: string, namespace: string): Promise<ReplicationLag[]> {
  const from = await admin.brokerClusterName();
  const rows: ReplicationLag[] = [];
  for (const topic of await admin.listTopics(tenant, namespace)) {
    const stats = await admin.topicStats(topic).catch((error: unknown) => {
      if ((error as { status?: unknown }).status === 404) return undefined;
      throw error;
    });
    for (const [to, replicator] of Object.entries(stats?.replication ?? {})) {
      rows.push({
        topic,
        from,
        to,
        backlog: replicator.replicationBacklog,
        msgRateOut: replicator.msgRateOut,
        delaySeconds: replicator.replicationDelayInSeconds,
        connected: replicator.connected,
      });
    }
  }
  return rows;
}
