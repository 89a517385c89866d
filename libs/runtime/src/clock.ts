/**
 * The time as a handler should see it. Live, the wall clock; in a rebuild from the log, the time
 * the mesh saw the event being replayed — so a handler that compares a deadline or an expiry with
 * "now" decides as it did live, however long ago that was.
 */
export interface MeshClock {
  /** Epoch ms. */
  now(): number;
}

export const SYSTEM_CLOCK: MeshClock = { now: () => Date.now() };
