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
} from '../state-store';

/*
 * Crash injection for end-to-end tests: a store that makes its process "die" right after a
 * chosen write, so a test can check that a successor finishes the job from what was written.
 */

/**
 * The real store of a process (e.g. an orchestrator's Redis store), which "dies" right after the
 * applyOnce whose marker matches: the write happens, and the handler never gets further.
 */
export class DyingStore implements StateStore {
  readonly driver: string;
  private dieAfter?: RegExp;
  private died!: () => void;
  /** Resolves when the process "died". */
  readonly dead = new Promise<void>((resolve) => (this.died = resolve));

  constructor(private readonly store: StateStore) {
    this.driver = store.driver;
  }

  dieAfterMarker(pattern: RegExp): void {
    this.dieAfter = pattern;
  }

  async applyOnce(marker: string, ops: readonly StateOp[], ttl?: number): Promise<ApplyOnceResult> {
    const result = await this.store.applyOnce(marker, ops, ttl);
    if (this.dieAfter?.test(marker)) {
      this.died();
      return new Promise<never>(() => undefined); // the handler hangs here until the process is killed
    }
    return result;
  }

  /** Dies as applyOnce does when one of the steps it applied has a matching marker. */
  async applyOnceChain(steps: readonly OnceStep[], ttl?: number): Promise<ChainResult> {
    const result = await this.store.applyOnceChain(steps, ttl);
    if (steps.slice(0, result.applied).some((step) => this.dieAfter?.test(step.marker))) {
      this.died();
      return new Promise<never>(() => undefined);
    }
    return result;
  }

  recordSlot(write: SlotWrite): Promise<SlotWriteResult> {
    return this.store.recordSlot(write);
  }
  apply(ops: readonly StateOp[]): Promise<readonly StateOpResult[]> {
    return this.store.apply(ops);
  }
  reserve(claims: readonly WindowClaim[]): Promise<ReserveResult> {
    return this.store.reserve(claims);
  }
  get(key: string): Promise<string | null> {
    return this.store.get(key);
  }
  hget(key: string, field: string): Promise<string | null> {
    return this.store.hget(key, field);
  }
  hmget(key: string, fields: readonly string[]): Promise<(string | null)[]> {
    return this.store.hmget(key, fields);
  }
  hgetall(key: string): Promise<Record<string, string>> {
    return this.store.hgetall(key);
  }
  lrange(key: string, start: number, stop: number): Promise<string[]> {
    return this.store.lrange(key, start, stop);
  }
  smembers(key: string): Promise<string[]> {
    return this.store.smembers(key);
  }
  zpage(key: string, page: Parameters<StateStore['zpage']>[1]): Promise<string[]> {
    return this.store.zpage(key, page);
  }
  zcard(key: string): Promise<number> {
    return this.store.zcard(key);
  }
  keys(pattern: string): Promise<string[]> {
    return this.store.keys(pattern);
  }
  ping(): Promise<boolean> {
    return this.store.ping();
  }
  close(): Promise<void> {
    return this.store.close();
  }
}
