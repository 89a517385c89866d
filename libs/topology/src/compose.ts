import { stringify } from 'yaml';
import {
  AGENT_CONTAINER_PORT,
  agentEnvironment,
  PULSAR_VERSION,
  type AgentService,
  type MeshTopology,
  type RegionTopology,
} from './topology';

/** The file `npm run deploy:generate` writes at the repository's root. */
export const COMPOSE_FILE = 'docker-compose.yml';

/** The one image every agent runs (deploy/docker/Dockerfile); the role is its command. */
export const AGENT_IMAGE = 'agent-mesh:latest';

/** Settings only the compose file sets: the collector it runs, the API keys from .env. */
export const COMPOSE_ONLY_SETTINGS = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'MESH_API_KEYS'] as const;

const OTLP_HTTP_ENDPOINT = 'http://otel-collector:4318';

type ComposeService = Record<string, unknown>;

const healthy = { condition: 'service_healthy' } as const;

function pulsarService(region: RegionTopology): ComposeService {
  const { pulsar } = region;
  return {
    image: `apachepulsar/pulsar:${PULSAR_VERSION}`,
    hostname: pulsar.service,
    // The image's standalone, renamed to the region's cluster (PULSAR_PREFIX_* rewrites standalone.conf).
    command: [
      'sh',
      '-c',
      'bin/apply-config-from-env.py conf/standalone.conf && exec bin/pulsar standalone --no-functions-worker --no-stream-storage',
    ],
    environment: {
      PULSAR_PREFIX_clusterName: pulsar.cluster,
      PULSAR_PREFIX_advertisedAddress: pulsar.service,
      PULSAR_PREFIX_brokerDeduplicationEnabled: 'true',
      // The log is the mesh's source of truth (rebuild, adoption): keep it, as deploy/pulsar does.
      PULSAR_PREFIX_defaultRetentionTimeInMinutes: '-1',
      PULSAR_PREFIX_defaultRetentionSizeInMB: '-1',
      PULSAR_MEM: '-Xms256m -Xmx512m -XX:MaxDirectMemorySize=384m',
    },
    ports: [`${pulsar.webPort}:8080`, `${pulsar.brokerPort}:6650`],
    volumes: [`${pulsar.service}:/pulsar/data`],
    healthcheck: {
      test: ['CMD', 'bin/pulsar-admin', 'brokers', 'healthcheck'],
      interval: '10s',
      timeout: '10s',
      retries: 30,
      start_period: '60s',
    },
  };
}

function redisService(region: RegionTopology): ComposeService {
  return {
    image: 'redis:7',
    command: ['redis-server', '--appendonly', 'yes'],
    ports: [`${region.redis.port}:6379`],
    volumes: [`${region.redis.service}:/data`],
    healthcheck: { test: ['CMD', 'redis-cli', 'ping'], interval: '5s', timeout: '3s', retries: 20 },
  };
}

/** Environment of an agent inside compose: the broker and Redis by service name. */
export function composeAgentEnvironment(
  agent: AgentService,
  region: RegionTopology,
  topology: MeshTopology,
): Record<string, string> {
  return {
    ...agentEnvironment(agent, {
      pulsarHost: region.pulsar.service,
      pulsarWebPort: 8080,
      pulsarBrokerPort: 6650,
      redisHost: region.redis.service,
      redisPort: 6379,
      port: AGENT_CONTAINER_PORT,
      bind: '0.0.0.0',
      peerPulsarWebUrls: topology.regions
        .filter((other) => other !== region)
        .map((other) => `http://${other.pulsar.service}:8080`),
    }),
    OTEL_EXPORTER_OTLP_ENDPOINT: OTLP_HTTP_ENDPOINT,
    MESH_API_KEYS: '${MESH_API_KEYS:?set MESH_API_KEYS in .env (see .env.example)}',
  };
}

function agentService(agent: AgentService, region: RegionTopology, topology: MeshTopology): ComposeService {
  return {
    image: AGENT_IMAGE,
    build: { context: '.', dockerfile: 'deploy/docker/Dockerfile' },
    command: [...agent.command],
    environment: composeAgentEnvironment(agent, region, topology),
    // Replicas cannot share a host port: only single-process roles publish one.
    ...(agent.replicas > 1
      ? { deploy: { replicas: agent.replicas } }
      : { ports: [`${agent.hostPort}:${AGENT_CONTAINER_PORT}`] }),
    depends_on: {
      [region.redis.service]: healthy,
      'mesh-init': { condition: 'service_completed_successfully' },
    },
    healthcheck: {
      test: ['CMD', 'node', 'deploy/docker/healthcheck.js'],
      interval: '10s',
      timeout: '5s',
      retries: 6,
      start_period: '20s',
    },
    stop_grace_period: '40s',
  };
}

/**
 * One-shot set-up once every broker is healthy: the tenant and the namespace on every cluster,
 * the clusters registered with each other and the namespace replicated between them — the
 * repository's own bootstrap, `mesh geo bootstrap` (docs/geo.md), as a user runs it by hand.
 */
function initService(topology: MeshTopology): ComposeService {
  const [first, ...others] = topology.regions;
  return {
    image: AGENT_IMAGE,
    build: { context: '.', dockerfile: 'deploy/docker/Dockerfile' },
    command: ['node', 'dist/cli/apps/cli/src/main.js', 'geo', 'bootstrap'],
    environment: {
      PULSAR_WEB_URL: `http://${first.pulsar.service}:8080`,
      MESH_GEO_PEER_WEB_URLS: others.map((r) => `http://${r.pulsar.service}:8080`).join(','),
    },
    depends_on: Object.fromEntries(topology.regions.map((r) => [r.pulsar.service, healthy])),
    restart: 'no',
  };
}

function observabilityServices(topology: MeshTopology): Record<string, ComposeService> {
  return {
    'otel-collector': {
      image: 'otel/opentelemetry-collector-contrib:0.114.0',
      command: ['--config=/etc/otelcol/config.yaml'],
      volumes: ['./deploy/compose/otel-collector.yaml:/etc/otelcol/config.yaml:ro'],
      ports: ['4318:4318'],
      depends_on: ['jaeger'],
    },
    jaeger: { image: 'jaegertracing/all-in-one:1.63.0', ports: ['16686:16686'] },
    prometheus: {
      image: 'prom/prometheus:v3.0.1',
      volumes: [
        './deploy/compose/prometheus.yml:/etc/prometheus/prometheus.yml:ro',
        './deploy/prometheus/mesh-alerts.yml:/etc/prometheus/mesh-alerts.yml:ro',
      ],
      ports: ['9090:9090'],
      depends_on: topology.regions.map((r) => `orchestrator-${r.name}`),
    },
  };
}

/** The compose file's content, as an object. */
export function composeDocument(topology: MeshTopology): Record<string, unknown> {
  const services: Record<string, ComposeService> = {};
  const volumes: Record<string, Record<string, never>> = {};
  for (const region of topology.regions) {
    services[region.pulsar.service] = pulsarService(region);
    services[region.redis.service] = redisService(region);
    volumes[region.pulsar.service] = {};
    volumes[region.redis.service] = {};
  }
  services['mesh-init'] = initService(topology);
  for (const region of topology.regions) {
    for (const agent of region.agents) services[agent.service] = agentService(agent, region, topology);
  }
  Object.assign(services, observabilityServices(topology));
  return { services, volumes };
}

/** docker-compose.yml as `npm run deploy:generate` writes it. */
export function renderCompose(topology: MeshTopology): string {
  const header = [
    '# The full two-region mesh: `docker compose up` (copy .env.example to .env first).',
    '# Generated from libs/topology by `npm run deploy:generate`; do not edit by hand:',
    '# `npm run mesh:local` starts the same topology as plain processes, and a test checks they agree.',
  ].join('\n');
  return `${header}\n${stringify(composeDocument(topology), { lineWidth: 0, version: '1.1' })}`;
}
