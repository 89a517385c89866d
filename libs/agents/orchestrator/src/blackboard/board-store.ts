import type { StateOp, StateStore } from '@agent-mesh/state';

/** One entry of a materialized board; `sequence` is its position on the board (1 = first). */
export interface BoardEntry {
  readonly sequence: number;
  readonly entryId: string;
  readonly kind: string;
  readonly text: string;
  /** `seed`, or the knowledge source that posted it. */
  readonly postedBy: string;
}

/** The materialized board of one blackboard step. */
export interface BoardView {
  readonly entries: BoardEntry[];
  /** Entries per kind. */
  readonly counts: Record<string, number>;
}

/** An entry as stored: its sequence is its place in the list. */
type StoredEntry = Omit<BoardEntry, 'sequence'>;

const base = (workflowId: string, stepPath: string) => `orchestrator:board:${workflowId}:${stepPath}`;
/** The entries in board order (a list of JSON entries without sequence). */
const entriesKey = (workflowId: string, stepPath: string) => `${base(workflowId, stepPath)}:entries`;
/** kind → number of entries. */
const countsKey = (workflowId: string, stepPath: string) => `${base(workflowId, stepPath)}:counts`;
/** entryId → '1' for every entry on the board (so a rebuilt board is not added to twice). */
const idsKey = (workflowId: string, stepPath: string) => `${base(workflowId, stepPath)}:ids`;
/** The controller's own bookkeeping (not part of the board, not rebuilt): `pending` source tasks. */
const controlKey = (workflowId: string, stepPath: string) => `${base(workflowId, stepPath)}:control`;

/** Every key of one board's materialization (what a rebuild replaces). */
export function boardKeys(workflowId: string, stepPath: string): string[] {
  return [entriesKey(workflowId, stepPath), countsKey(workflowId, stepPath), idsKey(workflowId, stepPath)];
}

/** Every key one board's state uses, its bookkeeping included (what expires with the workflow). */
export function boardStateKeys(workflowId: string, stepPath: string): string[] {
  return [...boardKeys(workflowId, stepPath), controlKey(workflowId, stepPath)];
}

/**
 * The Redis materialization of the boards: per (workflow, step) the entries in order, the count
 * of each kind, and which entry ids are on it. The topic `blackboard.<board>` is the source of
 * truth; this projection can be thrown away and rebuilt from it (`replace`).
 */
export class BoardStore {
  constructor(private readonly state: StateStore) {}

  /**
   * Adds an entry once: its sequence is the board's length after it. `fromSource` entries also
   * end the source task that produced them (one less pending). Returns the sequence, or
   * undefined when the entry was already on the board.
   */
  async add(
    workflowId: string,
    stepPath: string,
    entry: StoredEntry,
    fromSource: boolean,
  ): Promise<number | undefined> {
    if (await this.has(workflowId, stepPath, entry.entryId)) return undefined;
    const ops: StateOp[] = [
      { op: 'rpush', key: entriesKey(workflowId, stepPath), value: JSON.stringify(stored(entry)) },
      { op: 'hincrby', key: countsKey(workflowId, stepPath), field: entry.kind, by: 1 },
      { op: 'hset', key: idsKey(workflowId, stepPath), field: entry.entryId, value: '1' },
    ];
    if (fromSource) ops.push({ op: 'hincrby', key: controlKey(workflowId, stepPath), field: 'pending', by: -1 });
    const { applied, results } = await this.state.applyOnce(
      `orchestrator:board-entry:${workflowId}:${stepPath}:${entry.entryId}`,
      ops,
    );
    return applied ? Number(results[0]) : undefined;
  }

  async has(workflowId: string, stepPath: string, entryId: string): Promise<boolean> {
    return (await this.state.hget(idsKey(workflowId, stepPath), entryId)) !== null;
  }

  async read(workflowId: string, stepPath: string): Promise<BoardView> {
    const raw = await this.state.lrange(entriesKey(workflowId, stepPath), 0, -1);
    const entries = raw.map((json, i) => ({ sequence: i + 1, ...(JSON.parse(json) as StoredEntry) }));
    const counts: Record<string, number> = {};
    for (const [kind, n] of Object.entries(await this.state.hgetall(countsKey(workflowId, stepPath))))
      counts[kind] = Number(n);
    return { entries, counts };
  }

  /** Counts a source task as pending, once per task id (redelivered reactions count nothing twice). */
  async taskAssigned(workflowId: string, stepPath: string, taskId: string): Promise<void> {
    await this.state.applyOnce(`orchestrator:board-task:${taskId}`, [
      { op: 'hincrby', key: controlKey(workflowId, stepPath), field: 'pending', by: 1 },
    ]);
  }

  /** A source task that ended without an entry (it failed): one less pending, once per task id. */
  async taskEnded(workflowId: string, stepPath: string, taskId: string): Promise<void> {
    await this.state.applyOnce(`orchestrator:board-task-ended:${taskId}`, [
      { op: 'hincrby', key: controlKey(workflowId, stepPath), field: 'pending', by: -1 },
    ]);
  }

  /** Source tasks assigned whose entry is not on the board yet. */
  async pending(workflowId: string, stepPath: string): Promise<number> {
    return Number((await this.state.hget(controlKey(workflowId, stepPath), 'pending')) ?? '0');
  }

  /** Replaces the board with these entries (in this order), atomically; counts and ids follow from them. */
  async replace(workflowId: string, stepPath: string, entries: readonly StoredEntry[]): Promise<void> {
    const counts = new Map<string, number>();
    for (const e of entries) counts.set(e.kind, (counts.get(e.kind) ?? 0) + 1);
    await this.state.apply([
      ...boardKeys(workflowId, stepPath).map((key) => ({ op: 'del' as const, key })),
      ...entries.map((e) => ({
        op: 'rpush' as const,
        key: entriesKey(workflowId, stepPath),
        value: JSON.stringify(stored(e)),
      })),
      ...[...counts].map(([kind, n]) => ({
        op: 'hset' as const,
        key: countsKey(workflowId, stepPath),
        field: kind,
        value: String(n),
      })),
      ...entries.map((e) => ({ op: 'hset' as const, key: idsKey(workflowId, stepPath), field: e.entryId, value: '1' })),
    ]);
  }
}

/** Only the stored fields, in a fixed order (a rebuilt board reads back exactly as the original). */
function stored(entry: StoredEntry): StoredEntry {
  return { entryId: entry.entryId, kind: entry.kind, text: entry.text, postedBy: entry.postedBy };
}
