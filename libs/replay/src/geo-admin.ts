import { BadRequestException, Body, Controller, HttpCode, Inject, Module, Post } from '@nestjs/common';
import { MESH_TRANSPORT_OPTIONS, type MeshTransportOptions } from '@agent-mesh/nest-pulsar';
import { MESH_CONFIG, SKILL_REGISTRY, STATE_STORE, type MeshConfig } from '@agent-mesh/runtime';
import type { SkillRegistry } from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';
import { adoptRegion } from './adopt';
import { GeoAutoFailOver } from './auto-fail-over';

const REGION = /^[A-Za-z0-9_-]+$/;

/** What `POST /admin/geo/fail-over` answers. */
export interface FailOverAnswer {
  readonly home: string;
  readonly adoptedBy: string;
  readonly workflows: readonly string[];
  readonly reissuedTasks: number;
  readonly reissuedAsks: number;
  readonly publishedOutputs: number;
}

/**
 * `POST /admin/geo/fail-over` `{ "lost": "us-east" }`: the same as `mesh geo fail-over --lost
 * us-east` run in this region (docs/geo.md) — this region adopts the lost one's workflows, on its
 * broker and Redis. Behind the API keys like every route.
 */
@Controller('admin/geo')
export class GeoAdminController {
  constructor(
    @Inject(MESH_TRANSPORT_OPTIONS) private readonly transport: MeshTransportOptions,
    @Inject(STATE_STORE) private readonly state: StateStore,
    @Inject(MESH_CONFIG) private readonly config: MeshConfig,
    @Inject(SKILL_REGISTRY) private readonly skills: SkillRegistry,
  ) {}

  @Post('fail-over')
  @HttpCode(200)
  async failOver(@Body() body: unknown): Promise<FailOverAnswer> {
    const lost = (body as { lost?: unknown } | undefined)?.lost;
    if (typeof lost !== 'string' || !REGION.test(lost))
      throw new BadRequestException('lost must name the lost region (letters, digits, _ or -, e.g. us-east)');
    if (lost === this.config.region)
      throw new BadRequestException(`lost: ${lost} is this region; ask a surviving region to adopt its workflows`);
    if (this.config.geoPeerWebUrls.length === 0)
      throw new BadRequestException('this region is in no geo set (MESH_GEO_PEER_WEB_URLS is not set)');
    const report = await adoptRegion({
      bus: this.transport.bus,
      state: this.state,
      naming: this.transport.naming,
      lost,
      adoptedBy: this.config.region,
      requestedBy: this.transport.origin.source,
      skills: this.skills,
    });
    const { home, workflows, reissuedTasks, reissuedAsks, publishedOutputs } = report;
    return { home, adoptedBy: this.config.region, workflows, reissuedTasks, reissuedAsks, publishedOutputs };
  }
}

/** The orchestrator's geo admin routes (fail-over), and the automatic fail-over when MESH_GEO_AUTO_FAILOVER_MS is set. */
@Module({ controllers: [GeoAdminController], providers: [GeoAutoFailOver] })
export class GeoAdminModule {}
