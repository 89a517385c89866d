/**
 * Registers the contracts' schemas in Pulsar's schema registry, one per topic, and sets the
 * namespace's compatibility strategy to BACKWARD. deploy/pulsar/pulsar.sh runs it after creating
 * the namespace (`up`), and on its own (`schemas`) after a contract change. A schema the registry
 * refuses (incompatible with the one registered) stops it with the topic named; nothing after it
 * is registered. Producers and consumers that send no schema, as the agents', keep working.
 *
 *   node -r @swc-node/register tools/register-schemas.ts [--web-url URL] [--tenant T] [--namespace NS]
 *     [--skills a,b] [--boards a,b]
 *
 * Defaults: PULSAR_WEB_URL (http://127.0.0.1:8080), PULSAR_TENANT (agentmesh), PULSAR_NAMESPACE
 * (mesh); `tasks.<skill>` for the built-in skills, `blackboard.<board>` for MESH_BOARDS (default).
 * On a broker with authentication: PULSAR_TOKEN or PULSAR_TOKEN_FILE of a role that may change the
 * namespace's policies (the superuser token of `pulsar.sh up --auth`).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { schemaRegistrations } from '@agent-mesh/contracts';
import { PulsarAdmin } from '@agent-mesh/pulsar-admin';
import { createDefaultSkillRegistry } from '@agent-mesh/skills';

const list = (value: string | undefined): string[] | undefined =>
  value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'web-url': { type: 'string', default: process.env['PULSAR_WEB_URL'] || 'http://127.0.0.1:8080' },
      tenant: { type: 'string', default: process.env['PULSAR_TENANT'] || 'agentmesh' },
      namespace: { type: 'string', default: process.env['PULSAR_NAMESPACE'] || 'mesh' },
      skills: { type: 'string' },
      boards: { type: 'string', default: process.env['MESH_BOARDS'] || 'default' },
    },
  });
  const tokenFile = process.env['PULSAR_TOKEN_FILE'];
  const token = tokenFile ? readFileSync(tokenFile, 'utf8').trim() : process.env['PULSAR_TOKEN'] || undefined;
  const admin = new PulsarAdmin({ webUrl: values['web-url'] as string, token });
  const tenant = values.tenant as string;
  const namespace = values.namespace as string;
  const registrations = schemaRegistrations({
    skill: list(values.skills) ?? createDefaultSkillRegistry().names(),
    board: list(values.boards) ?? [],
  });
  const versions = await admin.registerSchemas(tenant, namespace, registrations);
  const enforced = await admin.getSchemaValidationEnforced(tenant, namespace);
  if (enforced)
    throw new Error(`${tenant}/${namespace} enforces schemas: the agents send none; turn schemaValidationEnforced off`);
  const summary = Object.entries(versions)
    .map(([topic, version]) => `${topic}@${version}`)
    .join(', ');
  console.log(`schemas registered on ${tenant}/${namespace} (compatibility BACKWARD): ${summary}`);
}

main().catch((error: unknown) => {
  console.error(`schema registration failed: ${(error as Error).message}`);
  process.exit(1);
});
