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
 * Fault injection for end-to-end tests: a store whose writes can fail once, as a transient
 * Redis error would — the process lives on, its handler sees the error and nacks its event.
 */

/** One write a process asks of its store: the method and what it names (markers, or the keys of plain ops). */
export interface StoreWrite {
  readonly method: 'applyOnce' | 'applyOnceChain' | 'recordSlot' | 'apply';
  /** Markers (applyOnce, applyOnceChain, recordSlot, with the slot's version and state), or `key[.field]` of each op (apply). */
  readonly names: readonly string[];
  /** The keys and values the write stores. */
  readonly values: readonly string[];
}

/**
 * What to do with a write: go through; fail `before` it reaches the store (nothing written); or
 * fail `after` it was written (the reply lost: written, but the caller sees an error).
 */
export type WriteFault = 'pass' | 'before' | 'after';

const opName = (op: StateOp): string => ('field' in op ? `${op.key}.${op.field}` : op.key);
const opValues = (ops: readonly StateOp[]): string[] =>
  ops.flatMap((op) => [op.key, 'value' in op ? op.value : 'member' in op ? op.member : '']);

/**
 * The real store of a process, asking `decide` about every write (applyOnce, applyOnceChain,
 * recordSlot, apply) and failing the ones it says to with an `InjectedStoreFault`. Reads go through.
 */
export class FaultyStore implements StateStore {
  readonly driver: string;

  constructor(
    private readonly store: StateStore,
    private readonly decide: (write: StoreWrite) => WriteFault,
  ) {
    this.driver = store.driver;
  }

  applyOnce(marker: string, ops: readonly StateOp[], ttl?: number): Promise<ApplyOnceResult> {
    const write: StoreWrite = { method: 'applyOnce', names: [marker], values: opValues(ops) };
    return this.write(write, () => this.store.applyOnce(marker, ops, ttl));
  }

  applyOnceChain(steps: readonly OnceStep[], ttl?: number): Promise<ChainResult> {
    const write: StoreWrite = {
      method: 'applyOnceChain',
      names: steps.map((s) => s.marker),
      values: steps.flatMap((s) => opValues(s.ops)),
    };
    return this.write(write, () => this.store.applyOnceChain(steps, ttl));
  }

  recordSlot(write: SlotWrite): Promise<SlotWriteResult> {
    const names = [write.marker, `${write.slotsKey}.${write.slot}=${write.version}:${write.state}`];
    return this.write({ method: 'recordSlot', names, values: opValues(write.ops ?? []) }, () =>
      this.store.recordSlot(write),
    );
  }

  reserve(claims: readonly WindowClaim[]): Promise<ReserveResult> {
    return this.store.reserve(claims);
  }
  apply(ops: readonly StateOp[]): Promise<readonly StateOpResult[]> {
    return this.write({ method: 'apply', names: ops.map(opName), values: opValues(ops) }, () => this.store.apply(ops));
  }

  private async write<T>(write: StoreWrite, run: () => Promise<T>): Promise<T> {
    const fault = this.decide(write);
    if (fault === 'before') throw new InjectedStoreFault(write, fault);
    const result = await run();
    if (fault === 'after') throw new InjectedStoreFault(write, fault);
    return result;
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

export class InjectedStoreFault extends Error {
  override readonly name = 'InjectedStoreFault';
  constructor(write: StoreWrite, fault: WriteFault) {
    super(`injected store fault ${fault} ${write.method} ${write.names.join(' ')}`);
  }
}
