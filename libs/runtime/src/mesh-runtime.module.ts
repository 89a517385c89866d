import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  type Provider,
} from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { ThrottlerStorageService } from '@nestjs/throttler';
import type { EventBus, MemoryBroker } from '@agent-mesh/bus';
import { createMeshEventRegistry } from '@agent-mesh/contracts';
import {
  MeshTransportModule,
  RegionHoming,
  type EventStamps,
  type MeshTransportOptions,
} from '@agent-mesh/nest-pulsar';
import { MeshMetricsModule } from '@agent-mesh/metrics';
import { gatewayLlmClient } from '@agent-mesh/llm-gateway';
import { createDefaultSkillRegistry, createLlmSkill, type LlmClient, type SkillRegistry } from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';
import { connectEventBus } from './bus-factory';
import { HealthController } from './health.controller';
import { MESH_SETTING_NAMES, validateMeshEnvironment, type MeshConfig } from './mesh-config';
import { metricsOptions } from './observability';
import { ProbesController } from './probes.controller';
import { openStateStore } from './redis-settings';
import { MESH_ROLE } from './role';
import { SYSTEM_CLOCK, type MeshClock } from './clock';
import { MeshLoggerModule, TracingLifecycle } from './telemetry';
import { MESH_CLOCK, MESH_CONFIG, SKILL_REGISTRY, STATE_STORE } from './tokens';

export interface MeshRuntimeOptions {
  /** The agent role of this process, e.g. 'worker'; 'mesh' for the embedded all-in-one. */
  readonly role: string;
  readonly defaultPort?: number;
  /** Settings that win over process.env (tests run several "processes" in one). */
  readonly env?: Readonly<Record<string, string>>;
  /** The memory broker to connect to (default: one per process). */
  readonly broker?: MemoryBroker;
  /**
   * An EventBus to use instead of the one the configuration names (the rebuild's, which feeds
   * handlers from the log and publishes nothing). It is closed with the app.
   */
  readonly bus?: EventBus;
  /** The events' ids, times and sources when they are known already (the rebuild's, from the log). */
  readonly stamps?: EventStamps;
  /** The time handlers see (MESH_CLOCK); default the wall clock. The rebuild's is the replayed event's time. */
  readonly clock?: MeshClock;
  /** A state store to use instead of the one the configuration names. */
  readonly stateStore?: StateStore;
  /** Prefix of every Redis key (default `agentmesh:`). */
  readonly stateKeyPrefix?: string;
  readonly skills?: SkillRegistry;
}

@Injectable()
class StateStoreLifecycle implements OnApplicationShutdown {
  constructor(@Inject(STATE_STORE) private readonly state: StateStore) {}

  async onApplicationShutdown(): Promise<void> {
    await this.state.close();
  }
}

/**
 * What every agent process needs: validated configuration, the EventBus and mesh transport,
 * the state store, the skill registry and `/health`. Agent modules are imported beside it.
 */
@Module({})
export class MeshRuntimeModule {
  static forRoot(options: MeshRuntimeOptions): DynamicModule {
    const settings = (config: ConfigService): Record<string, unknown> => {
      const record: Record<string, unknown> = {};
      for (const name of MESH_SETTING_NAMES) record[name] = config.get<string>(name);
      return { ...record, ...options.env };
    };
    const providers: Provider[] = [
      { provide: MESH_ROLE, useValue: options.role },
      { provide: MESH_CLOCK, useValue: options.clock ?? SYSTEM_CLOCK },
      {
        provide: MESH_CONFIG,
        inject: [ConfigService],
        useFactory: (config: ConfigService) => validateMeshEnvironment(settings(config), { port: options.defaultPort }),
      },
      {
        provide: STATE_STORE,
        inject: [MESH_CONFIG],
        useFactory: (config: MeshConfig) =>
          options.stateStore ??
          openStateStore({
            redisUrl: config.redisUrl,
            keyPrefix: options.stateKeyPrefix ?? config.redisKeyPrefix,
            redisSecurity: config.redisSecurity,
          }),
      },
      {
        provide: SKILL_REGISTRY,
        inject: [MESH_CONFIG, STATE_STORE],
        useFactory: (config: MeshConfig, store: StateStore) => {
          const registry = options.skills ?? createDefaultSkillRegistry();
          // The LLM skill joins when an endpoint is configured (LLM_BASE_URL, LLM_MODEL, LLM_API_KEY,
          // LLM_PRICES, LLM_MCP_SERVERS; docs/ai.md).
          if (config.llm?.model && !registry.get('llm')) {
            const { baseUrl, model, apiKey, prices, mcpServers } = config.llm;
            // Its calls go through the journal and the limits every worker shares (libs/llm-gateway).
            const { maxRpm, maxTpm, maxConcurrency, journalTtlSeconds } = config.llmGateway;
            const wrapClient = (client: LlmClient): LlmClient =>
              gatewayLlmClient(client, store, {
                limits: { maxRpm, maxTpm, maxConcurrency },
                journalTtlSeconds,
                scope: model,
              });
            registry.register(createLlmSkill({ baseUrl, model, apiKey, prices, mcpServers }, { wrapClient }));
          }
          return registry;
        },
      },
      StateStoreLifecycle,
      TracingLifecycle,
      ThrottlerStorageService, // the HTTP rate limits' counts (bootstrap's httpGuardMiddleware)
    ];
    return {
      module: MeshRuntimeModule,
      global: true,
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          // Stops start-up with every bad setting named; the typed config is MESH_CONFIG.
          validate: (raw) => {
            validateMeshEnvironment({ ...raw, ...options.env }, { port: options.defaultPort });
            return raw;
          },
        }),
        MeshTransportModule.forRootAsync({
          inject: [MESH_CONFIG, SKILL_REGISTRY],
          useFactory: async (config: MeshConfig, skills: SkillRegistry): Promise<MeshTransportOptions> => {
            const bus = options.bus ?? (await connectEventBus(config, options.broker));
            const registry = createMeshEventRegistry();
            return {
              bus,
              registry,
              // Homing in a geo set (docs/geo.md); never in a rebuild (options.bus), which folds any region's events.
              homing:
                config.geoPeerWebUrls.length > 0 && !options.bus
                  ? await RegionHoming.load(bus, registry, config.naming, config.region)
                  : undefined,
              naming: config.naming,
              origin: { source: `${options.role}@${config.instanceId}`, region: config.region },
              topicVariables: {
                capability: config.workerSkills ?? skills.names(),
                board: config.boards,
                instance: [config.instanceId],
              },
              drainTimeoutMs: config.drainTimeoutMs,
              stamps: options.stamps,
            };
          },
        }),
        // Observability (docs/operations.md): /metrics, heartbeats, broker stats; /health/live and /ready.
        MeshMetricsModule.forRootAsync({
          inject: [MESH_CONFIG, SKILL_REGISTRY],
          useFactory: (config: MeshConfig, skills: SkillRegistry) => metricsOptions(options, config, skills),
        }),
        TerminusModule.forRoot({ logger: false }),
        MeshLoggerModule,
      ],
      controllers: [HealthController, ProbesController],
      providers,
      exports: [MESH_ROLE, MESH_CLOCK, MESH_CONFIG, STATE_STORE, SKILL_REGISTRY],
    };
  }
}
