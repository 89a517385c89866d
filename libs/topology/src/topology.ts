/**
 * The mesh's deployment topology, described once: which services run in each region, on which
 * ports, with which environment. docker-compose.yml is generated from it (compose.ts) and
 * `npm run mesh:local` starts it as plain processes (launcher.ts), so the two cannot drift.
 */

/** The agent roles, each an app under apps/ and an image command (MESH_ROLE). */
export const AGENT_ROLES = ['orchestrator', 'aggregator', 'market-maker', 'saga-coordinator', 'worker'] as const;
export type AgentRole = (typeof AGENT_ROLES)[number];

/** The two regions a geo-replicated mesh runs in; a one-region mesh is the first alone. */
export const REGION_NAMES = ['us-east', 'eu-west'] as const;
export type RegionName = (typeof REGION_NAMES)[number];

/** The Pulsar version deploy/pulsar runs (keep in step with pulsar.sh and pom.xml). */
export const PULSAR_VERSION = '4.2.4';

/** Every agent listens on this port inside its container; the launcher gives each process its own. */
export const AGENT_CONTAINER_PORT = 3000;

export interface PulsarEndpoint {
  /** The compose service; `cluster` is the Pulsar cluster's name. */
  readonly service: string;
  readonly cluster: string;
  readonly webPort: number;
  readonly brokerPort: number;
}

export interface RedisEndpoint {
  readonly service: string;
  readonly port: number;
}

export interface AgentService {
  /** The compose service name, e.g. `worker-us-east`. */
  readonly service: string;
  readonly role: AgentRole;
  readonly region: string;
  /** What runs a process of it: the built app (`agentCommand`) unless a suite runs its own entry. */
  readonly command: readonly string[];
  /** How many processes (compose: `deploy.replicas`). */
  readonly replicas: number;
  /** The host port of the first process; the launcher gives replica k `hostPort + k`. */
  readonly hostPort: number;
  /** Settings that do not depend on where the broker and Redis are (those come from `Placement`). */
  readonly env: Readonly<Record<string, string>>;
}

export interface RegionTopology {
  /** A region of REGION_NAMES, or the name a suite gives its own (the fault suite's `faults`). */
  readonly name: string;
  readonly pulsar: PulsarEndpoint;
  readonly redis: RedisEndpoint;
  readonly agents: readonly AgentService[];
}

export interface MeshTopology {
  readonly regions: readonly RegionTopology[];
  /** Settings of a suite's own, given to every local agent process over the topology's (none in compose or `mesh:local`). */
  readonly env?: Readonly<Record<string, string>>;
}

/** Where a region runs on this machine: its name (also its Pulsar cluster's) and its host ports. */
export interface RegionHosts {
  readonly name: string;
  /** The port of the region's first agent; each role has its offset from it, workers last. */
  readonly agents: number;
  readonly pulsarWeb: number;
  readonly pulsarBroker: number;
  readonly redis: number;
}

export interface TopologyOptions {
  /** 1: us-east alone; 2: us-east and eu-west, geo-replicated. */
  readonly regions: 1 | 2;
  /** Worker processes per region. */
  readonly workers: number;
  /**
   * A suite's own regions, one per region, instead of DEFAULT_REGION_HOSTS: its broker, Redis and
   * agent ports (the fault suite's broker on :8097 and Redis on :6397), or agent ports of its own
   * next to the shared broker and Redis.
   */
  readonly hosts?: readonly RegionHosts[];
  /** Settings every agent process gets over the topology's own (a suite's namespace, key prefix, its skills' settings). */
  readonly env?: Readonly<Record<string, string>>;
  /** What runs a role (default `agentCommand`, the built app); the fault suite runs its own entry with its skills. */
  readonly command?: (role: AgentRole) => readonly string[];
}

export const DEFAULT_TOPOLOGY_OPTIONS: TopologyOptions = { regions: 2, workers: 2 };

/** Host ports: region i's agents start at 3000 + 1000·i, its broker and Redis as deploy/pulsar and the second Redis. */
export const DEFAULT_REGION_HOSTS: readonly RegionHosts[] = [
  { name: REGION_NAMES[0], agents: 3000, pulsarWeb: 8080, pulsarBroker: 6650, redis: 6379 },
  { name: REGION_NAMES[1], agents: 4000, pulsarWeb: 8090, pulsarBroker: 6660, redis: 6380 },
];

/** Each role's offset from the region's first agent port; workers last, one port per replica. */
const ROLE_PORT_OFFSET: Readonly<Record<AgentRole, number>> = {
  orchestrator: 0,
  aggregator: 2,
  'market-maker': 3,
  'saga-coordinator': 4,
  worker: 10,
};

export function meshTopology(options: TopologyOptions = DEFAULT_TOPOLOGY_OPTIONS): MeshTopology {
  if (!Number.isInteger(options.workers) || options.workers < 1 || options.workers > 50) {
    throw new Error(`workers must be an integer from 1 to 50 (got ${options.workers})`);
  }
  const hosts = options.hosts ?? DEFAULT_REGION_HOSTS;
  if (hosts.length < options.regions) {
    throw new Error(`hosts describes ${hosts.length} region(s), the topology has ${options.regions}`);
  }
  const command = options.command ?? agentCommand;
  const regions = hosts.slice(0, options.regions).map((ports): RegionTopology => ({
    name: ports.name,
    pulsar: {
      service: `pulsar-${ports.name}`,
      cluster: ports.name,
      webPort: ports.pulsarWeb,
      brokerPort: ports.pulsarBroker,
    },
    redis: { service: `redis-${ports.name}`, port: ports.redis },
    agents: AGENT_ROLES.map((role) => ({
      service: `${role}-${ports.name}`,
      role,
      region: ports.name,
      command: command(role),
      replicas: role === 'worker' ? options.workers : 1,
      hostPort: ports.agents + ROLE_PORT_OFFSET[role],
      env: { MESH_TRANSPORT: 'pulsar', MESH_REGION: ports.name },
    })),
  }));
  return options.env ? { regions, env: options.env } : { regions };
}

/**
 * Where one agent process runs: in compose, the broker and Redis are service names, every agent
 * listens on AGENT_CONTAINER_PORT on all interfaces; locally, everything is on 127.0.0.1 and each
 * process has a port of its own.
 */
export interface Placement {
  readonly pulsarHost: string;
  readonly pulsarWebPort: number;
  readonly pulsarBrokerPort: number;
  readonly redisHost: string;
  readonly redisPort: number;
  readonly port: number;
  readonly bind: string;
  /** The other regions' Pulsar admin URLs: with them, the agents home workflows per region (docs/geo.md). */
  readonly peerPulsarWebUrls: readonly string[];
}

/** The settings that say where things are: the only ones that differ between compose and the launcher. */
export const PLACEMENT_SETTINGS = [
  'PULSAR_WEB_URL',
  'PULSAR_SERVICE_URL',
  'REDIS_URL',
  'PORT',
  'MESH_BIND',
  'MESH_GEO_PEER_WEB_URLS',
] as const;

/** The whole environment of one agent process. */
export function agentEnvironment(agent: AgentService, at: Placement): Record<string, string> {
  return {
    ...agent.env,
    PULSAR_WEB_URL: `http://${at.pulsarHost}:${at.pulsarWebPort}`,
    PULSAR_SERVICE_URL: `pulsar://${at.pulsarHost}:${at.pulsarBrokerPort}`,
    REDIS_URL: `redis://${at.redisHost}:${at.redisPort}`,
    PORT: String(at.port),
    MESH_BIND: at.bind,
    ...(at.peerPulsarWebUrls.length > 0 ? { MESH_GEO_PEER_WEB_URLS: at.peerPulsarWebUrls.join(',') } : {}),
  };
}

/** The command that runs a role from the built apps (`nx build <role>`), the same in the image and locally. */
export function agentCommand(role: AgentRole): readonly string[] {
  return appCommand(role);
}

/** The command that runs an app of apps/ from its build (`nx build <app>`): a role, or `mesh` (every role in one process). */
export function appCommand(app: string): readonly string[] {
  return ['node', `dist/${app}/apps/${app}/src/main.js`];
}
