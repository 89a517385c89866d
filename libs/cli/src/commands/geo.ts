import { parseArgs } from 'node:util';
import { bootstrapGeoReplication, PulsarAdmin, replicationLag, type ReplicationLag } from '@agent-mesh/pulsar-admin';
import { validateMeshEnvironment, type MeshConfig } from '@agent-mesh/runtime';
import { formatAdoptionReport, runFailOverCommand } from '@agent-mesh/replay';
import { UsageError, type CliContext, type CommandGroup } from '../command';

/**
 * `mesh geo bootstrap | lag`: joins this region's Pulsar cluster (PULSAR_WEB_URL) with the other
 * regions' (MESH_GEO_PEER_WEB_URLS or --peer) into one geo-replicated set, and shows how far
 * replication lags (docs/geo.md).
 */
export const geoCommands: CommandGroup = {
  name: 'geo',
  summary: 'geo-replication between regions: join the clusters, show the replication lag',
  usage: [
    'mesh geo bootstrap [--peer <admin url> …] [--namespace <ns> …]',
    '  registers the clusters with each other, allows the tenant on all, replicates the namespace(s);',
    '  idempotent: a second run reports "no changes"',
    'mesh geo lag [--peer <admin url> …] [--namespace <ns>] [--json]',
    '  replication backlog and delay per topic and direction',
    '  (this cluster: PULSAR_WEB_URL; the others: MESH_GEO_PEER_WEB_URLS, comma-separated, or --peer)',
    'mesh geo fail-over --lost <region>',
    '  this region (MESH_REGION) adopts the lost region’s workflows: rebuilds the running ones in its',
    '  Redis (REDIS_URL) from the replicated log, publishes region.adopted, re-issues what was outstanding',
  ],
  async run(args, context) {
    const [command, ...rest] = args;
    const { values } = parseArgs({
      args: rest,
      options: {
        peer: { type: 'string', multiple: true },
        namespace: { type: 'string', multiple: true },
        json: { type: 'boolean' },
        lost: { type: 'string' },
      },
    });
    if (command === 'fail-over') return failOver(context, values.lost);
    const config = validateMeshEnvironment({ MESH_TRANSPORT: 'pulsar', ...context.env });
    const webUrls = clusterUrls(config, values.peer);
    const namespaces = values.namespace ?? [config.naming.namespace];
    if (command === 'bootstrap') return bootstrap(context, config, webUrls, namespaces);
    if (command === 'lag') return lag(context, config, webUrls, namespaces, values.json ?? false);
    throw new UsageError(
      command ? `unknown geo command "${command}"` : 'name a geo command: bootstrap, lag or fail-over',
    );
  },
};

function clusterUrls(config: MeshConfig, peerFlags: readonly string[] | undefined): string[] {
  if (!config.pulsarWebUrl) throw new UsageError('mesh geo works on the admin API: set PULSAR_WEB_URL');
  const peers = peerFlags ?? config.geoPeerWebUrls;
  if (peers.length === 0)
    throw new UsageError(
      'name the other regions’ clusters: MESH_GEO_PEER_WEB_URLS=<admin url>,… or --peer <admin url>',
    );
  return [config.pulsarWebUrl, ...peers];
}

async function bootstrap(
  context: CliContext,
  config: MeshConfig,
  webUrls: readonly string[],
  namespaces: readonly string[],
): Promise<number> {
  const { out } = context.output;
  const report = await bootstrapGeoReplication({
    webUrls,
    tenant: config.naming.tenant,
    namespaces,
    token: config.pulsarToken,
  });
  for (const cluster of report.clusters)
    out(`cluster ${cluster.name}: ${cluster.data.serviceUrl} ${cluster.data.brokerServiceUrl}`);
  for (const change of report.changes) out(`changed ${change}`);
  const names = report.clusters.map((c) => c.name).join(', ');
  const replicated = namespaces.map((ns) => `${config.naming.tenant}/${ns}`).join(', ');
  out(
    report.changes.length === 0
      ? `no changes: ${replicated} already replicated between ${names}`
      : `${report.changes.length} changes: ${replicated} replicated between ${names}`,
  );
  return 0;
}

async function lag(
  context: CliContext,
  config: MeshConfig,
  webUrls: readonly string[],
  namespaces: readonly string[],
  json: boolean,
): Promise<number> {
  const rows: ReplicationLag[] = [];
  for (const webUrl of webUrls) {
    const admin = new PulsarAdmin({ webUrl, token: config.pulsarToken });
    for (const namespace of namespaces) rows.push(...(await replicationLag(admin, config.naming.tenant, namespace)));
  }
  const { out } = context.output;
  if (json) {
    out(JSON.stringify(rows));
    return 0;
  }
  if (rows.length === 0) out('no replicated topics');
  for (const row of rows) {
    out(
      `${row.from} → ${row.to}  ${row.topic}  backlog ${row.backlog}  delay ${row.delaySeconds} s  ` +
        `${row.msgRateOut.toFixed(1)} msg/s  ${row.connected ? 'connected' : 'NOT CONNECTED'}`,
    );
  }
  return 0;
}

async function failOver(context: CliContext, lost: string | undefined): Promise<number> {
  if (!lost) throw new UsageError('name the lost region: mesh geo fail-over --lost <region>');
  const env = Object.fromEntries(
    Object.entries({ MESH_TRANSPORT: 'pulsar', ...context.env }).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    ),
  );
  if (!env['MESH_REGION']) throw new UsageError('mesh geo fail-over: set MESH_REGION to this (the adopting) region');
  if (!env['REDIS_URL']) {
    context.output.err(
      'mesh geo fail-over rebuilds the adopted workflows’ state: set REDIS_URL to this region’s Redis',
    );
    return 3;
  }
  const report = await runFailOverCommand({ lost, env });
  context.output.out(formatAdoptionReport(report, env['MESH_REGION']));
  return 0;
}
