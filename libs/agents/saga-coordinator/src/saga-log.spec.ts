import type { SagaStepItemSpec } from '@agent-mesh/contracts';
import { leftToUndo, undoNext, type SagaLog, type StepPhase } from './saga-log';

const log = (...phases: StepPhase[]): SagaLog => ({
  status: 'compensating',
  steps: phases.map((_, i) => ({ name: `s${i}` }) as SagaStepItemSpec),
  phases,
  compensationAttempts: phases.map(() => 0),
});

describe('undoNext: the undoing, strictly in reverse order', () => {
  it('undoes the latest step that took effect, skipping failed, pending and undone steps', () => {
    expect(undoNext(log('completed', 'completed', 'failed', 'pending'))).toEqual({ kind: 'undo', index: 1 });
    expect(undoNext(log('completed', 'compensated', 'failed'))).toEqual({ kind: 'undo', index: 0 });
  });

  it('waits for an action still out (running, or past its deadline) before undoing the steps before it', () => {
    expect(undoNext(log('completed', 'timed-out'))).toEqual({ kind: 'wait', index: 1 });
    expect(undoNext(log('completed', 'running'))).toEqual({ kind: 'wait', index: 1 });
  });

  it('undoes a step whose outcome is unknown (never reported), as if it took effect', () => {
    expect(undoNext(log('completed', 'unknown'))).toEqual({ kind: 'undo', index: 1 });
  });

  it('starts nothing while a compensation is out', () => {
    expect(undoNext(log('completed', 'compensating', 'compensated'))).toEqual({ kind: 'in-flight', index: 1 });
  });

  it('is done when nothing that took effect is left', () => {
    expect(undoNext(log('compensated', 'compensated', 'failed', 'pending'))).toEqual({ kind: 'done' });
    expect(undoNext(log('failed'))).toEqual({ kind: 'done' });
  });
});

describe('leftToUndo', () => {
  it('names every step whose effect may still be applied, latest first', () => {
    expect(leftToUndo(log('completed', 'unknown', 'compensating', 'compensated', 'failed'))).toEqual([
      's2',
      's1',
      's0',
    ]);
  });
});
