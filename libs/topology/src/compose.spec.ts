import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { COMPOSE_FILE, COMPOSE_ONLY_SETTINGS, renderCompose } from './compose';
import { localPlan } from './agent-process';
import { DEFAULT_TOPOLOGY_OPTIONS, meshTopology, PLACEMENT_SETTINGS } from './topology';

const root = join(__dirname, '..', '..', '..');
const composePath = join(root, COMPOSE_FILE);
const composeText = readFileSync(composePath, 'utf8');

/** The Compose Specification's JSON schema, as Debian's docker-compose ships it (.ci/run installs the package). */
const COMPOSE_SPEC_SCHEMA = '/usr/lib/python3/dist-packages/compose/config/compose_spec.json';

interface ComposeService {
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  deploy?: { replicas?: number };
}

const compose = parse(composeText) as { services: Record<string, ComposeService> };

/**
 * A validator for that schema (draft 2019-09). It still names its parts with the pre-draft-06
 * `id` keyword, which Ajv refuses: dropped (the `$ref`s are JSON pointers and do not need them).
 * Compose's own formats: a duration as Go writes it (`1m30s`); ports and expose as strings.
 */
function composeSchemaValidator() {
  const schema = JSON.parse(readFileSync(COMPOSE_SPEC_SCHEMA, 'utf8'), (key, value: unknown) =>
    (key === 'id' || key === '$schema') && typeof value === 'string' ? undefined : value,
  ) as Record<string, unknown>;
  const ajv = new Ajv2019({ strict: false, allErrors: true, formats: { ports: true, expose: true } });
  addFormats(ajv);
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
  return ajv.compile(schema);
}

describe('docker-compose.yml', () => {
  it('is what libs/topology generates (regenerate with `npm run deploy:generate`)', () => {
    expect(composeText).toBe(renderCompose(meshTopology(DEFAULT_TOPOLOGY_OPTIONS)));
  });

  it('passes `docker-compose config` (Debian docker-compose)', () => {
    const out = execFileSync('docker-compose', ['-f', composePath, 'config', '-q'], {
      env: { ...process.env, MESH_API_KEYS: 'a-key-of-sixteen-or-more' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toBe('');
  });

  it('validates against the Compose Specification JSON schema', () => {
    expect(existsSync(COMPOSE_SPEC_SCHEMA)).toBe(true);
    const validate = composeSchemaValidator();
    const valid = validate(parse(composeText));
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('a schema-breaking change is caught (the check can fail)', () => {
    const validate = composeSchemaValidator();
    const broken = parse(composeText) as { services: Record<string, Record<string, unknown>> };
    broken.services['worker-us-east']['depends_on'] = 'redis-us-east';
    expect(validate(broken)).toBe(false);
  });
});

describe('compose and the local launcher (npm run mesh:local) run the same topology', () => {
  const topology = meshTopology(DEFAULT_TOPOLOGY_OPTIONS);
  const plan = localPlan(topology);
  const agentServices = topology.regions.flatMap((r) => r.agents.map((a) => a.service));
  const differsByPlacement = new Set<string>([...PLACEMENT_SETTINGS, ...COMPOSE_ONLY_SETTINGS, 'MESH_INSTANCE_ID']);

  it('has the same agent services, as many processes of each, with the same command', () => {
    for (const service of agentServices) {
      const inCompose = compose.services[service];
      const processes = plan.filter((p) => p.service === service);
      expect(inCompose).toBeDefined();
      expect(processes.length).toBe(inCompose.deploy?.replicas ?? 1);
      for (const p of processes) expect(p.command).toEqual(inCompose.command);
    }
    expect(new Set(plan.map((p) => p.service))).toEqual(new Set(agentServices));
  });

  it('gives each agent the same settings, but for where the broker, Redis and its port are', () => {
    for (const p of plan) {
      const env = compose.services[p.service].environment ?? {};
      const keys = (e: Record<string, string>) =>
        Object.keys(e)
          .filter((k) => !differsByPlacement.has(k))
          .sort();
      expect({ service: p.service, keys: keys(p.env) }).toEqual({ service: p.service, keys: keys(env) });
      for (const k of keys(env))
        expect({ service: p.service, [k]: p.env[k] }).toEqual({ service: p.service, [k]: env[k] });
      for (const k of PLACEMENT_SETTINGS) {
        expect(env[k]).toBeDefined();
        expect(p.env[k]).toBeDefined();
      }
    }
  });

  it('publishes on the host the ports the launcher uses', () => {
    for (const region of topology.regions) {
      const published = (service: string) => compose.services[service].ports?.map((m) => Number(m.split(':')[0])) ?? [];
      expect(published(region.pulsar.service)).toEqual([region.pulsar.webPort, region.pulsar.brokerPort]);
      expect(published(region.redis.service)).toEqual([region.redis.port]);
      for (const p of plan.filter((x) => x.region === region.name)) {
        expect(p.env['PULSAR_WEB_URL']).toBe(`http://127.0.0.1:${region.pulsar.webPort}`);
        expect(p.env['REDIS_URL']).toBe(`redis://127.0.0.1:${region.redis.port}`);
        const mapped = published(p.service);
        if (mapped.length > 0) expect(mapped).toEqual([p.port]);
      }
    }
  });
});
