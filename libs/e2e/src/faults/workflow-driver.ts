import type { FaultScenario } from './fault-scenarios';

const TERMINAL = new Set(['completed', 'failed', 'compensated', 'cancelled', 'timed-out']);

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One workflow of the run and what became of it. */
export interface WorkflowRecord {
  readonly ordinal: number;
  readonly scenario: FaultScenario;
  id?: string;
  submittedAt?: number;
  /** Last status seen (undefined: never read). */
  status?: string;
  reason?: string;
  /** Submissions that failed before one was accepted. */
  refused: number;
  /** The steps still open when the workflow was given up (for a lost one). */
  openSteps?: string[];
}

interface WorkflowView {
  readonly status: string;
  readonly reason?: string;
  readonly steps?: readonly { readonly path: string; readonly kind: string; readonly status: string }[];
}

/**
 * Submits workflows over HTTP and follows them, through orchestrator restarts: a request that
 * cannot connect is tried again (the workflow was not accepted); one that fails half-way is
 * tried again under a new ordinal (it may have been accepted: its ghost has its own input ids,
 * so it can never pose as a duplicate effect). Each workflow is followed until it is terminal or
 * `waitMs` after its submission, when it counts as lost.
 */
export class WorkflowDriver {
  private nextOrdinal = 0;
  /** Accepted-or-not submissions whose answer was lost (their workflow, if any, is not followed). */
  uncertainSubmissions = 0;
  /** Workflows accepted so far, and how many of them ended (terminal). */
  accepted = 0;
  ended = 0;

  constructor(
    private readonly baseUrl: () => string,
    private readonly waitMs: number,
  ) {}

  /** Submits a workflow of `scenario` (retrying until accepted) and follows it to its end. */
  async run(scenario: FaultScenario, paused: () => Promise<void>): Promise<WorkflowRecord> {
    const record: WorkflowRecord = { ordinal: -1, scenario, refused: 0 };
    const giveUpAt = Date.now() + this.waitMs;
    while (!record.id) {
      await paused();
      const ordinal = this.nextOrdinal++;
      (record as { ordinal: number }).ordinal = ordinal;
      const outcome = await this.submit(scenario, ordinal);
      if ('id' in outcome) {
        record.id = outcome.id;
        record.submittedAt = Date.now();
        this.accepted++;
        break;
      }
      record.refused++;
      if (outcome.failed === 'uncertain') this.uncertainSubmissions++;
      if (Date.now() > giveUpAt) return record;
      await sleep(500);
    }
    await this.follow(record, record.id, (record.submittedAt ?? Date.now()) + this.waitMs);
    if (isTerminal(record.status)) this.ended++;
    return record;
  }

  private async submit(
    scenario: FaultScenario,
    ordinal: number,
  ): Promise<{ readonly id: string } | { readonly failed: 'refused' | 'uncertain' }> {
    const body = { name: `faults ${scenario.pattern}: ${scenario.name}`, step: scenario.step(`w${ordinal}`) };
    try {
      const response = await fetch(`${this.baseUrl()}/workflows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(20_000),
      });
      const json = (await response.json().catch(() => ({}))) as { workflowId?: string };
      if (response.status === 202 && json.workflowId) return { id: json.workflowId };
      if (response.status === 400) throw new Error(`the suite's spec was refused: ${JSON.stringify(json)}`);
      return { failed: 'uncertain' };
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("the suite's spec")) throw error;
      return { failed: connectionRefused(error) ? 'refused' : 'uncertain' };
    }
  }

  /** Polls until terminal or `until`; the last view read stays on the record. */
  async follow(record: WorkflowRecord, id: string, until: number): Promise<void> {
    for (;;) {
      const view = await this.read(id);
      if (view) {
        record.status = view.status;
        record.reason = view.reason;
        if (TERMINAL.has(view.status)) return;
        record.openSteps = (view.steps ?? [])
          .filter((s) => !TERMINAL.has(s.status))
          .map((s) => `${s.path} (${s.kind}, ${s.status})`);
      }
      if (Date.now() > until) return;
      await sleep(1_000);
    }
  }

  private async read(id: string): Promise<WorkflowView | undefined> {
    try {
      const response = await fetch(`${this.baseUrl()}/workflows/${id}`, { signal: AbortSignal.timeout(10_000) });
      if (response.status !== 200) return undefined;
      return (await response.json()) as WorkflowView;
    } catch {
      return undefined; // the orchestrator is restarting
    }
  }
}

export function isTerminal(status: string | undefined): boolean {
  return status !== undefined && TERMINAL.has(status);
}

function connectionRefused(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string } } | undefined)?.cause;
  return cause?.code === 'ECONNREFUSED';
}
