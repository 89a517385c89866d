import { validateWorkflowSpec, type ChainStepSpec } from '@agent-mesh/contracts';
import { evaluateGate } from './gate';
import { fieldOf, parentOf, stepAt } from './step-tree';

const spec = validateWorkflowSpec({
  step: {
    kind: 'chain',
    stages: [
      {
        step: { kind: 'task', skill: 'summarize', input: { id: 'a', text: 'One. Two.' } },
        gate: {
          checks: [{ field: 'summary', op: 'min', value: 3 }],
          onFail: { action: 'recover', recovery: { kind: 'task', skill: 'keywords', inputFrom: { source: 'previous', field: 'summary' } } },
        },
      },
      {
        step: {
          kind: 'supervisor',
          children: [
            { kind: 'task', skill: 'keywords', input: { id: 'b', text: 'x y' } },
            { kind: 'fan-out', skill: 'sentiment', inputs: [{ id: 'c', text: 'good' }] },
          ],
        },
      },
    ],
  },
});

describe('step paths', () => {
  it('find the step at each path of the tree', () => {
    expect(stepAt(spec, 'root').kind).toBe('chain');
    expect(stepAt(spec, 'root.stages.0')).toBe((spec.step as ChainStepSpec).stages[0].step);
    expect(stepAt(spec, 'root.stages.0.recovery')).toBe((spec.step as ChainStepSpec).stages[0].gate?.onFail.recovery);
    expect(stepAt(spec, 'root.stages.1.children.1').kind).toBe('fan-out');
    expect(() => stepAt(spec, 'root.stages.7')).toThrow('no stage 7');
    expect(() => stepAt(spec, 'root.children.0')).toThrow('no step at root.children.0');
  });

  it('say how a step hangs from its parent', () => {
    expect(parentOf('root')).toEqual({ kind: 'root' });
    expect(parentOf('root.stages.3')).toEqual({ kind: 'chain-stage', chainPath: 'root', stage: 3 });
    expect(parentOf('root.stages.0.recovery')).toEqual({ kind: 'chain-recovery', chainPath: 'root', stage: 0 });
    expect(parentOf('root.stages.1.children.12')).toEqual({ kind: 'supervisor-child', supervisorPath: 'root.stages.1', index: 12 });
    expect(() => parentOf('elsewhere')).toThrow('not a step path');
  });

  it('read dotted fields', () => {
    expect(fieldOf({ a: { b: [1, 2] } }, 'a.b')).toEqual([1, 2]);
    expect(fieldOf({ a: 1 }, 'a.b')).toBeUndefined();
  });
});

describe('validation gates', () => {
  const gate = (checks: object[]) => validateWorkflowSpec({
    step: { kind: 'chain', stages: [{ step: { kind: 'task', skill: 'x', input: { id: 'a', text: 't' } }, gate: { checks, onFail: { action: 'fail' } } }] },
  });
  const of = (checks: object[]) => (gate(checks).step as ChainStepSpec).stages[0].gate!;

  it('pass when every check holds', () => {
    const output = { summary: 'Four words long here.', score: 0.7, label: 'positive', keywords: ['a', 'b'] };
    const verdict = evaluateGate(
      of([
        { field: 'summary', op: 'exists' },
        { field: 'summary', op: 'min', value: 10 },
        { field: 'score', op: 'max', value: 1 },
        { field: 'label', op: 'equals', value: 'positive' },
        { field: 'summary', op: 'matches', value: '^Four' },
        { field: 'keywords', op: 'min', value: 2 },
      ]),
      output,
    );
    expect(verdict).toEqual({ ok: true });
  });

  it('fail naming every broken check', () => {
    const verdict = evaluateGate(
      of([
        { field: 'summary', op: 'exists' },
        { field: 'score', op: 'min', value: 0.5 },
        { field: 'label', op: 'equals', value: 'positive' },
      ]),
      { summary: '', score: 0.2, label: 'negative' },
    );
    expect(verdict.ok).toBe(false);
    const reason = verdict.ok ? '' : verdict.reason;
    expect(reason).toContain('summary is missing');
    expect(reason).toContain('score is 0.2, below the minimum 0.5');
    expect(reason).toContain('label is "negative", not "positive"');
  });
});
