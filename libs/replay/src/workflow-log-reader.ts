import {
  Global,
  Inject,
  Injectable,
  Module,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { EventBus } from '@agent-mesh/bus';
import type { TopicNaming } from '@agent-mesh/contracts';
import {
  WORKFLOW_LOG_READER,
  workflowViewOf,
  type WorkflowLogReader,
  type WorkflowView,
} from '@agent-mesh/agents/orchestrator';
import { MESH_TRANSPORT_OPTIONS, RegionHoming, type MeshTransportOptions } from '@agent-mesh/nest-pulsar';
import { MESH_CONFIG, SKILL_REGISTRY, STATE_STORE, type MeshConfig } from '@agent-mesh/runtime';
import type { SkillRegistry } from '@agent-mesh/skills';
import { MemoryStateStore, type StateStore } from '@agent-mesh/state';
import { AdoptedWorkflows, ENDED_STATUSES } from './fail-back';
import { rebuildWorkflows } from './rebuild';
import { REPLAYED_ROLES } from './roles';

/** Ended workflows' views kept, most recent last: they no longer change. */
const CACHED_VIEWS = 200;

/**
 * A workflow's view folded from its events in the log: the orchestrator's own handlers rebuild
 * its state in memory (rebuildWorkflows), nothing is written to the region's Redis and nothing is
 * published. Each read scans the orchestrator's topics from the start, so ended workflows' views
 * are cached.
 */
export class LogWorkflowReader implements WorkflowLogReader {
  private readonly cache = new Map<string, WorkflowView>();

  constructor(
    private readonly bus: EventBus,
    private readonly naming: TopicNaming,
    private readonly skills?: SkillRegistry,
    /** This region's workflows another region adopted (fail-back): their views say by whom. */
    private readonly adopted?: AdoptedWorkflows,
  ) {}

  async read(workflowId: string): Promise<(WorkflowView & { adoptedBy?: string }) | undefined> {
    const cached = this.cache.get(workflowId);
    if (cached) return cached;
    const state = new MemoryStateStore();
    try {
      await rebuildWorkflows({
        bus: this.bus,
        state,
        roles: REPLAYED_ROLES.filter((role) => role.role === 'orchestrator'),
        workflows: [workflowId],
        env: { PULSAR_TENANT: this.naming.tenant, PULSAR_NAMESPACE: this.naming.namespace },
        skills: this.skills,
      });
      const folded = await workflowViewOf(state, workflowId);
      const adoptedBy = this.adopted?.adoptedBy(workflowId);
      const view = folded && adoptedBy ? { ...folded, adoptedBy } : folded;
      if (view && ENDED_STATUSES.has(view.status)) this.remember(view);
      return view;
    } finally {
      await state.close();
    }
  }

  private remember(view: WorkflowView): void {
    this.cache.set(view.id, view);
    if (this.cache.size > CACHED_VIEWS) this.cache.delete(this.cache.keys().next().value as string);
  }
}

/** Forgets this region's adopted workflows at start-up (before HTTP listens) and on later adoptions. */
@Injectable()
class AdoptedWorkflowsLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    @Inject(AdoptedWorkflows) private readonly adopted: AdoptedWorkflows | null,
    @Inject(MESH_TRANSPORT_OPTIONS) private readonly transport: MeshTransportOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.adopted && this.transport.homing instanceof RegionHoming) await this.adopted.start(this.transport.homing);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.adopted?.stop();
  }
}

/**
 * Gives the orchestrator's `GET /workflows/:id` the other regions' workflows, read-only, from
 * their replicated events — when this region is in a geo set (MESH_GEO_PEER_WEB_URLS set); else
 * an unknown id stays a plain 404 without a scan of the log. In a geo set it also forgets, at
 * start-up, what this region's Redis still holds of its workflows another region adopted
 * (AdoptedWorkflows: fail-back's stale view), so they too are answered from the log.
 */
@Global()
@Module({
  providers: [
    {
      provide: AdoptedWorkflows,
      inject: [MESH_TRANSPORT_OPTIONS, MESH_CONFIG, STATE_STORE],
      useFactory: (transport: MeshTransportOptions, config: MeshConfig, state: StateStore) =>
        config.geoPeerWebUrls.length > 0 ? new AdoptedWorkflows(transport.bus, transport.naming, state) : null,
    },
    {
      provide: WORKFLOW_LOG_READER,
      inject: [MESH_TRANSPORT_OPTIONS, MESH_CONFIG, SKILL_REGISTRY, AdoptedWorkflows],
      useFactory: (
        transport: MeshTransportOptions,
        config: MeshConfig,
        skills: SkillRegistry,
        adopted: AdoptedWorkflows | null,
      ) =>
        config.geoPeerWebUrls.length > 0
          ? new LogWorkflowReader(transport.bus, transport.naming, skills, adopted ?? undefined)
          : null,
    },
    AdoptedWorkflowsLifecycle,
  ],
  exports: [WORKFLOW_LOG_READER],
})
export class WorkflowLogReaderModule {}
