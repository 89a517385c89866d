import { createHash } from 'node:crypto';
import type { SagaStepItemSpec } from '@agent-mesh/contracts';

/**
 * A step's phase in the saga's log:
 * - `pending`: not started; `running`: its action is out, before its deadline;
 * - `timed-out`: its deadline passed with no result yet — the action may still take effect;
 * - `completed`: its action took effect; `failed`: its action reported a failure (no effect);
 * - `unknown`: no result came within the wait after its deadline — undone anyway, as if it took effect;
 * - `compensating`: its compensation is out (attempt `compensation-attempt:<i>`); `compensated`: undone.
 */
export type StepPhase =
  'pending' | 'running' | 'timed-out' | 'completed' | 'failed' | 'unknown' | 'compensating' | 'compensated';

/** `compensating` until every step that took effect is undone; `failed` if a compensation kept failing. */
export type SagaStatus = 'running' | 'compensating' | 'completed' | 'compensated' | 'failed';

export interface SagaLog {
  readonly status: SagaStatus;
  readonly steps: SagaStepItemSpec[];
  readonly phases: StepPhase[];
  /** The attempt of each step's compensation (0: none yet). */
  readonly compensationAttempts: number[];
  readonly reason?: string;
}

/** The Redis hash of one saga: the workflow's, at a step path. */
export const logKey = (workflowId: string, path: string) => `saga:${workflowId}:${path}`;

/** The log from its hash, or undefined if the saga never started. */
export function parseLog(raw: Readonly<Record<string, string>>): SagaLog | undefined {
  if (!raw['steps']) return undefined;
  const steps = JSON.parse(raw['steps']) as SagaStepItemSpec[];
  return {
    status: raw['status'] as SagaStatus,
    steps,
    phases: steps.map((_, i) => (raw[`phase:${i}`] ?? 'pending') as StepPhase),
    compensationAttempts: steps.map((_, i) => Number(raw[`compensation-attempt:${i}`] ?? 0)),
    reason: raw['reason'],
  };
}

/** Phases of a step whose action took, or may still take, effect and is not undone yet. */
const TO_UNDO: ReadonlySet<StepPhase> = new Set(['running', 'timed-out', 'completed', 'unknown', 'compensating']);

/** What the undoing of a saga does next. */
export type UndoNext =
  /** Every step that took effect is undone. */
  | { readonly kind: 'done' }
  /** This step's compensation is out: wait for its result (or re-publish it, after a crash). */
  | { readonly kind: 'in-flight'; readonly index: number }
  /** This step's action has not reported yet: wait for its result or for the wait to expire. */
  | { readonly kind: 'wait'; readonly index: number }
  /** Undo this step now. */
  | { readonly kind: 'undo'; readonly index: number };

/**
 * The next move while compensating, strictly in reverse order: the latest step whose action took
 * (or may take) effect and is not undone yet. An action still out holds the walk until its
 * result — the steps before it are undone only after it.
 */
export function undoNext(log: SagaLog): UndoNext {
  for (let index = log.phases.length - 1; index >= 0; index--) {
    const phase = log.phases[index];
    if (!TO_UNDO.has(phase)) continue;
    if (phase === 'compensating') return { kind: 'in-flight', index };
    if (phase === 'running' || phase === 'timed-out') return { kind: 'wait', index };
    return { kind: 'undo', index };
  }
  return { kind: 'done' };
}

/** The steps whose effect is (or may be) still applied, latest first: what an operator must undo. */
export function leftToUndo(log: SagaLog): string[] {
  return log.steps
    .map((step, i) => ({ step, i }))
    .filter(({ i }) => TO_UNDO.has(log.phases[i]))
    .reverse()
    .map(({ step }) => step.name);
}

/**
 * A UUID (version 5 layout: SHA-1 of the name) for what a saga announces, the same each time it
 * is announced: a re-published announcement is the same event, which its consumers record once.
 */
export function announcementId(workflowId: string, stepPath: string, what: string): string {
  const hash = createHash('sha1').update(`saga:${workflowId}:${stepPath}:${what}`).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
