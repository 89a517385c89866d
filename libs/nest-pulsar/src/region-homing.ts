import { Logger } from '@nestjs/common';
import { BusClosedError, type EventBus, type Reader } from '@agent-mesh/bus';
import {
  describeError,
  qualifyTopic,
  RegionAdoptedV1,
  Topics,
  type EventRegistry,
  type RegionAdopted,
  type TopicNaming,
} from '@agent-mesh/contracts';

/**
 * Which workflows this process works on, in a geo set (docs/geo.md). The transport asks it of
 * every event (by the event's home) and acks-and-skips the ones of other homes; MeshPublisher
 * stamps `home` on the events no cause gives one (a new workflow).
 */
export interface Homing {
  /** This process's region. */
  readonly region: string;
  /** The home of a workflow begun here now: this region at its epoch. */
  readonly home: string;
  /** Whether this process takes up events of workflows homed `home`. */
  takes(home: string): boolean;
  /** Stops following whatever it follows (closed with the transport). */
  close?(): Promise<void>;
}

/** `us-east` at epoch 0, `us-east#2` at epoch 2. */
export function homeOf(region: string, epoch: number): string {
  return epoch === 0 ? region : `${region}#${epoch}`;
}

/** The region a home names. */
export function regionOfHome(home: string): string {
  const hash = home.indexOf('#');
  return hash < 0 ? home : home.slice(0, hash);
}

/** How long the first read of `mesh.regions` waits for a message the topic says is there. */
const READ_TIMEOUT_MS = 1000;

/**
 * Homing from the adoptions on `mesh.regions` (`region.adopted`, replicated). A home's workflows
 * belong to its region until an adoption of that home names an adopter; a region's epoch is the
 * number of its epochs adopted, so a region that comes back homes its new workflows apart from
 * the adopted ones. `load` reads the whole topic before it answers (a process takes nothing
 * before it knows what was adopted), then follows it; `onAdoption` hears each new adoption.
 */
export class RegionHoming implements Homing {
  private readonly log = new Logger('RegionHoming');
  /** Adopted home → the region that adopted it. */
  private readonly owners = new Map<string, string>();
  private readonly listeners = new Set<(adoption: RegionAdopted) => void>();
  private closed = false;
  private following?: Promise<void>;

  private constructor(
    readonly region: string,
    private readonly reader: Reader,
    private readonly registry: EventRegistry,
  ) {}

  static async load(
    bus: EventBus,
    registry: EventRegistry,
    naming: TopicNaming,
    region: string,
  ): Promise<RegionHoming> {
    const reader = await bus.createReader({
      topic: qualifyTopic(naming, Topics.regions),
      startMessageId: 'earliest',
    });
    const homing = new RegionHoming(region, reader, registry);
    while (await reader.hasMessageAvailable()) {
      const message = await reader.readNext(READ_TIMEOUT_MS);
      if (!message) break;
      homing.apply(message.payload);
    }
    homing.following = homing.follow();
    return homing;
  }

  get home(): string {
    return homeOf(this.region, this.epochOf(this.region));
  }

  takes(home: string): boolean {
    return this.ownerOf(home) === this.region;
  }

  /** The region whose workflows homed `home` are: its adopter's, else its own region's. */
  ownerOf(home: string): string {
    return this.owners.get(home) ?? regionOfHome(home);
  }

  /** The number of `region`'s epochs adopted so far. */
  epochOf(region: string): number {
    let epoch = 0;
    while (this.owners.has(homeOf(region, epoch))) epoch++;
    return epoch;
  }

  /** The homes `region` took over from others. */
  adoptedBy(region: string): string[] {
    return [...this.owners].filter(([, owner]) => owner === region).map(([home]) => home);
  }

  /** Calls `listener` on every adoption heard from now on; returns what stops it. */
  onAdoption(listener: (adoption: RegionAdopted) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reader.close().catch(() => undefined);
    await this.following;
  }

  private async follow(): Promise<void> {
    while (!this.closed) {
      try {
        const message = await this.reader.readNext(READ_TIMEOUT_MS);
        if (message) this.apply(message.payload);
      } catch (error) {
        if (this.closed || error instanceof BusClosedError) return;
        this.log.warn(`reading ${Topics.regions}: ${describeError(error)}`);
        await new Promise((resolve) => setTimeout(resolve, READ_TIMEOUT_MS));
      }
    }
  }

  private apply(payload: Buffer): void {
    const decoded = this.registry.decode(payload);
    if (!decoded.ok || decoded.envelope.type !== RegionAdoptedV1.type) {
      this.log.warn(`ignoring a message on ${Topics.regions}: ${decoded.ok ? decoded.envelope.type : decoded.reason}`);
      return;
    }
    const adoption = decoded.envelope.data as RegionAdopted;
    const home = homeOf(adoption.region, adoption.epoch);
    if (this.owners.has(home)) return; // adopted once; the first adoption stands
    this.owners.set(home, adoption.adoptedBy);
    this.log.log(`workflows homed ${home} are ${adoption.adoptedBy}'s from now on`);
    for (const listener of this.listeners) listener(adoption);
  }
}
