import { validateWorkflowSpec, type StepOf } from '@agent-mesh/contracts';
import { evaluateGate } from './gate';

describe('validation gates', () => {
  const gate = (checks: object[]) =>
    validateWorkflowSpec({
      step: {
        kind: 'chain',
        stages: [
          {
            step: { kind: 'task', skill: 'x', input: { id: 'a', text: 't' } },
            gate: { checks, onFail: { action: 'fail' } },
          },
        ],
      },
    });
  const of = (checks: object[]) => (gate(checks).step as StepOf<'chain'>).stages[0].gate!;

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
