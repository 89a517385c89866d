import type {
  ApplyOnceResult,
  ChainResult,
  OnceStep,
  ReserveResult,
  SlotWrite,
  SlotWriteResult,
  StateOp,
  StateOpResult,
  StateStore,
  WindowClaim,
} from '@agent-mesh/state';

/** Markers of a rebuild run live this long: they only matter while the run lasts. */
export const RUN_MARKER_TTL_SECONDS = 3600;

/**
 * The state store a rebuilt role writes through: the real one (the role's own keys), but with
 * its applyOnce markers in a namespace of the run (`replay:<runId>:<marker>`), so markers the
 * live agents left behind — they outlive the keys that were lost, for 7 days — do not make the
 * replayed handlers skip their writes. Each write that applies also records the live marker
 * (if absent, with the usual TTL) right after it: a live redelivery of an event the rebuild applied finds it applied, as if the live agent had.
 */
export class ReplayStateStore implements StateStore {
  readonly driver: string;

  constructor(
    private readonly inner: StateStore,
    private readonly runId: string,
    /** The workflows being rebuilt: listings show only their keys. */
    private readonly workflows: readonly string[] = [],
  ) {
    this.driver = inner.driver;
  }

  private run(marker: string): string {
    return `replay:${this.runId}:${marker}`;
  }

  async applyOnce(marker: string, ops: readonly StateOp[]): Promise<ApplyOnceResult> {
    const result = await this.inner.applyOnce(this.run(marker), ops, RUN_MARKER_TTL_SECONDS);
    if (result.applied) await this.recordLive([marker]);
    return result;
  }

  async applyOnceChain(steps: readonly OnceStep[]): Promise<ChainResult> {
    const { applied, results } = await this.inner.applyOnceChain(
      steps.map((step) => ({ marker: this.run(step.marker), ops: step.ops })),
      RUN_MARKER_TTL_SECONDS,
    );
    await this.recordLive(steps.slice(0, applied).map((step) => step.marker));
    return { applied, results };
  }

  async recordSlot(write: SlotWrite): Promise<SlotWriteResult> {
    const result = await this.inner.recordSlot({
      ...write,
      marker: this.run(write.marker),
      markerTtlSeconds: RUN_MARKER_TTL_SECONDS,
    });
    if (result.outcome === 'recorded') await this.recordLive([write.marker]);
    return result;
  }

  /** The live markers of what the run applied, each with the store's default TTL; one found there already is left as it is. */
  private async recordLive(markers: readonly string[]): Promise<void> {
    await Promise.all(markers.map((marker) => this.inner.applyOnce(marker, [])));
  }

  apply(ops: readonly StateOp[]): Promise<readonly StateOpResult[]> {
    return this.inner.apply(ops);
  }
  reserve(claims: readonly WindowClaim[]): Promise<ReserveResult> {
    return this.inner.reserve(claims);
  }
  get(key: string): Promise<string | null> {
    return this.inner.get(key);
  }
  hget(key: string, field: string): Promise<string | null> {
    return this.inner.hget(key, field);
  }
  hmget(key: string, fields: readonly string[]): Promise<(string | null)[]> {
    return this.inner.hmget(key, fields);
  }
  hgetall(key: string): Promise<Record<string, string>> {
    return this.inner.hgetall(key);
  }
  lrange(key: string, start: number, stop: number): Promise<string[]> {
    return this.inner.lrange(key, start, stop);
  }
  smembers(key: string): Promise<string[]> {
    return this.inner.smembers(key);
  }
  zpage(key: string, page: Parameters<StateStore['zpage']>[1]): Promise<string[]> {
    return this.inner.zpage(key, page);
  }
  zcard(key: string): Promise<number> {
    return this.inner.zcard(key);
  }
  /**
   * Only the rebuilt workflows' keys: a role that lists keys to restore what it keeps in memory
   * (the market maker's order books) takes up the rebuilt workflows only, and touches no other.
   */
  async keys(pattern: string): Promise<string[]> {
    const keys = await this.inner.keys(pattern);
    return keys.filter((key) => this.workflows.some((id) => key.includes(id)));
  }
  ping(): Promise<boolean> {
    return this.inner.ping();
  }
  /** The inner store belongs to the caller, who closes it. */
  async close(): Promise<void> {
    return undefined;
  }
}
