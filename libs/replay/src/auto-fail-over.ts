import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { BusClosedError, type Reader } from '@agent-mesh/bus';
import { AgentHeartbeatV1, describeError, qualifyTopic, Topics, type AgentHeartbeat } from '@agent-mesh/contracts';
import { homeOf, MESH_TRANSPORT_OPTIONS, RegionHoming, type MeshTransportOptions } from '@agent-mesh/nest-pulsar';
import { MESH_CONFIG, SKILL_REGISTRY, STATE_STORE, type MeshConfig } from '@agent-mesh/runtime';
import type { SkillRegistry } from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';
import { adoptRegion, type AdoptionReport } from './adopt';

/** How long a read of `mesh.agents` waits before it checks whether it was stopped. */
const READ_TIMEOUT_MS = 1_000;

/**
 * Automatic fail-over (MESH_GEO_AUTO_FAILOVER_MS, off by default; docs/geo.md). The orchestrator
 * follows the heartbeats on `mesh.agents` (replicated: every agent's, with its region) from the
 * time it starts; a peer region heard once and then silent for the grace period is adopted —
 * `adoptRegion`, as `POST /admin/geo/fail-over` does. The orchestrators of this region race for
 * a marker in its Redis (`geo:auto-fail-over:<home>`, applyOnce): one adopts, the others stand
 * aside. A region adopted (by this or by hand) is adopted again only after it was heard again.
 */
@Injectable()
export class GeoAutoFailOver implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('GeoAutoFailOver');
  /** Peer region → when this process last heard one of its heartbeats (this process's clock). */
  private readonly lastHeard = new Map<string, number>();
  /** Peer region → when it was last adopted (a new heartbeat after that makes it adoptable again). */
  private readonly adoptedAt = new Map<string, number>();
  private reader?: Reader;
  private reading?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private checking?: Promise<void>;
  private stopAdoptions?: () => void;
  private closed = false;

  constructor(
    @Inject(MESH_TRANSPORT_OPTIONS) private readonly transport: MeshTransportOptions,
    @Inject(STATE_STORE) private readonly state: StateStore,
    @Inject(MESH_CONFIG) private readonly config: MeshConfig,
    @Inject(SKILL_REGISTRY) private readonly skills: SkillRegistry,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const grace = this.config.geoAutoFailoverMs;
    const homing = this.transport.homing;
    if (grace <= 0 || !(homing instanceof RegionHoming)) return;
    this.stopAdoptions = homing.onAdoption((adoption) => this.adoptedAt.set(adoption.region, Date.now()));
    const { bus, naming } = this.transport;
    this.reader = await bus.createReader({ topic: qualifyTopic(naming, Topics.agents), startMessageId: 'latest' });
    this.reading = this.follow(this.reader);
    this.timer = setInterval(() => void this.check(), Math.min(1_000, Math.max(50, Math.floor(grace / 4))));
    this.timer.unref();
    this.log.log(`automatic fail-over on: a peer region silent for ${grace} ms is adopted by ${this.config.region}`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.stopAdoptions?.();
    await this.reader?.close().catch(() => undefined);
    await this.reading;
    await this.checking;
  }

  /** Adopts every peer region silent for the grace period and not adopted since it was last heard. */
  check(now = Date.now()): Promise<void> {
    this.checking ??= this.adoptSilent(now).finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async adoptSilent(now: number): Promise<void> {
    for (const [region, heard] of this.lastHeard) {
      if (this.closed || now - heard < this.config.geoAutoFailoverMs) continue;
      if ((this.adoptedAt.get(region) ?? -Infinity) >= heard) continue;
      this.adoptedAt.set(region, now);
      await this.failOver(region, now - heard).catch((error: unknown) => {
        this.adoptedAt.delete(region); // tried again at the next check
        this.log.error(`automatic fail-over of ${region} failed: ${describeError(error)}`);
      });
    }
  }

  private async failOver(region: string, silentMs: number): Promise<AdoptionReport | undefined> {
    const homing = this.transport.homing as RegionHoming;
    const home = homeOf(region, homing.epochOf(region));
    const { applied } = await this.state.applyOnce(`geo:auto-fail-over:${home}`, []);
    if (!applied) {
      this.log.log(`${region} silent for ${silentMs} ms: another orchestrator of ${this.config.region} adopts ${home}`);
      return undefined;
    }
    this.log.warn(`${region} silent for ${silentMs} ms: ${this.config.region} adopts ${home}`);
    const report = await adoptRegion({
      bus: this.transport.bus,
      state: this.state,
      naming: this.transport.naming,
      lost: region,
      adoptedBy: this.config.region,
      requestedBy: `${this.transport.origin.source} (automatic fail-over)`,
      skills: this.skills,
    });
    this.log.warn(
      `adopted ${report.home}: ${report.workflows.length} running workflows, ${report.reissuedTasks} tasks and ${report.reissuedAsks} asks re-issued`,
    );
    return report;
  }

  private async follow(reader: Reader): Promise<void> {
    while (!this.closed) {
      try {
        const message = await reader.readNext(READ_TIMEOUT_MS);
        if (message) this.heard(message.payload);
      } catch (error) {
        if (this.closed || error instanceof BusClosedError) return;
        this.log.warn(`reading ${Topics.agents}: ${describeError(error)}`);
        await new Promise((resolve) => setTimeout(resolve, READ_TIMEOUT_MS));
      }
    }
  }

  private heard(payload: Buffer): void {
    const decoded = this.transport.registry.decode(payload);
    if (!decoded.ok || decoded.envelope.type !== AgentHeartbeatV1.type) return;
    const { region } = decoded.envelope.data as AgentHeartbeat;
    if (region && region !== this.config.region) this.lastHeard.set(region, Date.now());
  }
}
