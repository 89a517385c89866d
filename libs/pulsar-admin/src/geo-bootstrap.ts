import { PulsarAdmin } from './pulsar-admin';
import type { ClusterData, GeoClusterInfo } from './types';

export interface GeoBootstrapOptions {
  /** Each cluster's admin API, e.g. `[us-east's, eu-west's]`; two or more, distinct clusters. */
  readonly webUrls: readonly string[];
  readonly tenant: string;
  /** The namespaces to replicate between every cluster (short names, in the tenant). */
  readonly namespaces: readonly string[];
  readonly token?: string;
  readonly timeoutMs?: number;
}

export interface GeoBootstrapReport {
  readonly clusters: readonly GeoClusterInfo[];
  /** What was changed, one line each (`us-east: registered cluster eu-west …`); empty when all was in place. */
  readonly changes: readonly string[];
}

/**
 * Joins independent Pulsar clusters (each with its own metadata store, as standalones are) into
 * one geo-replicated set, through their admin APIs only: in every cluster it registers every
 * other cluster with the URLs that cluster registered itself with, allows the tenant on all of
 * them, creates each namespace when missing, widens a namespace's own `allowed_clusters` when it
 * is set, and replicates each namespace to all the clusters.
 *
 * Idempotent: it reads before it writes, adds without removing (a cluster the tenant or a
 * namespace already had stays), and reports only what it changed — a second run reports nothing.
 */
export async function bootstrapGeoReplication(options: GeoBootstrapOptions): Promise<GeoBootstrapReport> {
  if (options.webUrls.length < 2) throw new Error('geo bootstrap needs the admin URLs of at least two clusters');
  if (options.namespaces.length === 0) throw new Error('geo bootstrap needs at least one namespace to replicate');
  const admins = options.webUrls.map(
    (webUrl) => new PulsarAdmin({ webUrl, token: options.token, timeoutMs: options.timeoutMs }),
  );
  const clusters = await Promise.all(admins.map(describeCluster));
  const names = clusters.map((c) => c.name);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate) {
    const urls = clusters.filter((c) => c.name === duplicate).map((c) => c.webUrl);
    throw new Error(`geo bootstrap: ${urls.join(' and ')} are both cluster "${duplicate}"; each needs its own name`);
  }

  const changes: string[] = [];
  for (const [i, admin] of admins.entries()) {
    const note = (what: string) => changes.push(`${names[i]}: ${what}`);
    for (const peer of clusters.filter((c) => c.name !== names[i])) await registerPeer(admin, peer, note);
    await allowTenant(admin, options.tenant, names, note);
    for (const namespace of options.namespaces) await replicateNamespace(admin, options.tenant, namespace, names, note);
  }
  return { clusters, changes };
}

async function describeCluster(admin: PulsarAdmin): Promise<GeoClusterInfo> {
  const name = await admin.brokerClusterName();
  return { name, webUrl: admin.webUrl, data: await admin.getCluster(name) };
}

type Note = (what: string) => void;

async function registerPeer(admin: PulsarAdmin, peer: GeoClusterInfo, note: Note): Promise<void> {
  const urls = `${peer.data.serviceUrl}, ${peer.data.brokerServiceUrl}`;
  if (!(await admin.clusters()).includes(peer.name)) {
    await admin.createCluster(peer.name, peer.data);
    note(`registered cluster ${peer.name} (${urls})`);
    return;
  }
  const known = await admin.getCluster(peer.name);
  if (sameUrls(known, peer.data)) return;
  await admin.updateCluster(peer.name, peer.data);
  note(`updated cluster ${peer.name} (${known.serviceUrl}, ${known.brokerServiceUrl} → ${urls})`);
}

async function allowTenant(admin: PulsarAdmin, tenant: string, names: readonly string[], note: Note): Promise<void> {
  const current = (await admin.tenants()).includes(tenant) ? (await admin.getTenant(tenant)).allowedClusters : [];
  const wanted = union(current, names);
  if (wanted.length === current.length && current.length > 0) return;
  const result = await admin.ensureTenant(tenant, { allowedClusters: wanted });
  note(`${result === 'created' ? 'created' : 'updated'} tenant ${tenant} (allowed clusters ${wanted.join(', ')})`);
}

async function replicateNamespace(
  admin: PulsarAdmin,
  tenant: string,
  namespace: string,
  names: readonly string[],
  note: Note,
): Promise<void> {
  const fqn = `${tenant}/${namespace}`;
  if (!(await admin.namespaces(tenant)).includes(fqn)) {
    await admin.ensureNamespace(tenant, namespace);
    note(`created namespace ${fqn}`);
  }
  // Pulsar ≥ 3.3 (PIP-321): a namespace's own allowed clusters, when set, bound its replication clusters.
  const allowed = await admin.getNamespaceAllowedClusters(tenant, namespace);
  if (allowed.length > 0 && union(allowed, names).length > allowed.length) {
    const wanted = union(allowed, names);
    await admin.setNamespaceAllowedClusters(tenant, namespace, wanted);
    note(`namespace ${fqn} allowed clusters ${wanted.join(', ')}`);
  }
  const replicated = await admin.getReplicationClusters(tenant, namespace);
  const wanted = union(replicated, names);
  if (wanted.length === replicated.length) return;
  await admin.setReplicationClusters(tenant, namespace, wanted);
  note(`namespace ${fqn} replicated to ${wanted.join(', ')}`);
}

/** `a` with the members of `b` it lacks appended (order kept, no duplicates). */
function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}

function sameUrls(a: ClusterData, b: ClusterData): boolean {
  return a.serviceUrl === b.serviceUrl && a.brokerServiceUrl === b.brokerServiceUrl;
}
