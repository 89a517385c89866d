import 'reflect-metadata';
import { childrenOf, fieldOf, lineage, parentOf, stepAt, walkSteps, type StepOf } from './step-tree';
import { validateWorkflowSpec } from './workflow-spec';

const spec = validateWorkflowSpec({
  step: {
    kind: 'chain',
    stages: [
      {
        step: { kind: 'task', skill: 'summarize', input: { id: 'a', text: 'One. Two.' } },
        gate: {
          checks: [{ field: 'summary', op: 'min', value: 3 }],
          onFail: {
            action: 'recover',
            recovery: { kind: 'task', skill: 'keywords', inputFrom: { source: 'previous', field: 'summary' } },
          },
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
const chain = spec.step as StepOf<'chain'>;

describe('the step tree', () => {
  it('finds the step at each path', () => {
    expect(stepAt(spec, 'root').kind).toBe('chain');
    expect(stepAt(spec, 'root.stages.0')).toBe(chain.stages[0].step);
    expect(stepAt(spec, 'root.stages.0.recovery')).toBe(chain.stages[0].gate?.onFail.recovery);
    expect(stepAt(spec, 'root.stages.1.children.1').kind).toBe('fan-out');
    expect(() => stepAt(spec, 'root.stages.7')).toThrow('no step at root.stages.7');
    expect(() => stepAt(spec, 'root.children.0')).toThrow('no step at root.children.0');
    expect(() => stepAt(spec, 'root.stages.1.recovery')).toThrow('no step at root.stages.1.recovery');
    expect(() => stepAt(spec, 'elsewhere')).toThrow('must start at root');
  });

  it('checks the kind when asked, naming the path', () => {
    expect(stepAt(spec, 'root.stages.1', 'supervisor').children).toHaveLength(2);
    expect(() => stepAt(spec, 'root.stages.1', 'fan-out')).toThrow(
      'the step at root.stages.1 is a supervisor, not a fan-out',
    );
  });

  it('says how a step hangs from its parent', () => {
    expect(parentOf('root')).toBeUndefined();
    expect(parentOf('root.stages.3')).toEqual({ path: 'root', link: 'stage', index: 3 });
    expect(parentOf('root.stages.0.recovery')).toEqual({ path: 'root', link: 'recovery', index: 0 });
    expect(parentOf('root.stages.1.children.12')).toEqual({ path: 'root.stages.1', link: 'child', index: 12 });
    expect(() => parentOf('root.stages.x')).toThrow('not a step path');
    expect(() => parentOf('root.branches.1')).toThrow('not a step path');
  });

  it('gives a step and its ancestors, nearest first', () => {
    expect(lineage('root')).toEqual(['root']);
    expect(lineage('root.stages.1.children.0')).toEqual(['root.stages.1.children.0', 'root.stages.1']);
    expect(lineage('root.stages.0.recovery')).toEqual(['root.stages.0.recovery']);
    expect(lineage('not-a-path')).toEqual(['not-a-path']);
  });

  it('lists children with their path and field segments', () => {
    expect(childrenOf(chain).map((c) => [c.segment, c.field, c.afterPrevious])).toEqual([
      ['stages.0', 'stages.0.step', false],
      ['stages.0.recovery', 'stages.0.gate.onFail.recovery', true],
      ['stages.1', 'stages.1.step', true],
    ]);
    expect(childrenOf(chain.stages[0].step)).toEqual([]);
  });

  it('walks every step, parents first, with depth and whether a previous output exists', () => {
    const seen: string[] = [];
    walkSteps(spec.step, (step, place) =>
      seen.push(`${place.path} ${place.field} ${place.depth} ${place.hasPrevious} ${step.kind}`),
    );
    expect(seen).toEqual([
      'root step 1 false chain',
      'root.stages.0 step.stages.0.step 2 false task',
      'root.stages.0.recovery step.stages.0.gate.onFail.recovery 2 true task',
      'root.stages.1 step.stages.1.step 2 true supervisor',
      'root.stages.1.children.0 step.stages.1.step.children.0 3 true task',
      'root.stages.1.children.1 step.stages.1.step.children.1 3 true fan-out',
    ]);
  });

  it('reads dotted fields', () => {
    expect(fieldOf({ a: { b: [1, 2] } }, 'a.b')).toEqual([1, 2]);
    expect(fieldOf({ a: 1 }, 'a.b')).toBeUndefined();
  });
});
