import { Injectable } from '@nestjs/common';

/** How long a fan-out's completion waits in the handler for its branch results to be projected. */
export const PROJECTION_WAIT_MS = 2_000;
const FIRST_POLL_MS = 2;
const MAX_POLL_MS = 50;

/**
 * Lets the handler of `fanout.completed` wait for the branch results it names to be projected
 * (they arrive on `task.results`, consumed by another subscription, and can trail the
 * aggregator's decision by a few milliseconds). The wait wakes when this process records a
 * branch of the step, and polls with a growing interval otherwise (another orchestrator
 * instance may be the one recording). Holding the handler costs nothing but a pending promise;
 * a nack would cost a redelivery delay (a second) per fan-out.
 */
@Injectable()
export class BranchProjectionWaiter {
  private readonly waiting = new Map<string, Set<() => void>>();

  /** Called after a branch of `stepPath` is recorded: wakes the waits on that step. */
  branchRecorded(workflowId: string, stepPath: string): void {
    const wakers = this.waiting.get(keyOf(workflowId, stepPath));
    if (wakers) for (const wake of wakers) wake();
  }

  /**
   * Re-checks `projected` until it holds or `timeoutMs` passes; resolves whether it held. A
   * check runs at once, on every branch recorded here, and at least every MAX_POLL_MS.
   */
  async waitUntil(
    workflowId: string,
    stepPath: string,
    projected: () => Promise<boolean>,
    timeoutMs = PROJECTION_WAIT_MS,
  ): Promise<boolean> {
    const key = keyOf(workflowId, stepPath);
    const deadline = Date.now() + timeoutMs;
    let pollMs = FIRST_POLL_MS;
    let wake: (() => void) | undefined;
    const wakers = this.waiting.get(key) ?? new Set<() => void>();
    this.waiting.set(key, wakers);
    let signalled = false;
    const onRecorded = () => {
      signalled = true;
      wake?.();
    };
    wakers.add(onRecorded);
    try {
      for (;;) {
        signalled = false;
        if (await projected()) return true;
        const left = deadline - Date.now();
        if (left <= 0) return false;
        // A branch recorded while the check ran: check again at once.
        if (signalled) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(pollMs, left));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
        pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
      }
    } finally {
      wakers.delete(onRecorded);
      if (wakers.size === 0) this.waiting.delete(key);
    }
  }
}

function keyOf(workflowId: string, stepPath: string): string {
  return `${workflowId} ${stepPath}`;
}
