import 'reflect-metadata';
import { lineage, parentOf, stepAt } from './step-tree';
import { plannedChildren, withPlans } from './supervisor-plan';
import { ContractValidationError } from './validation';
import { validateWorkflowSpec } from './workflow-spec';

const doc = (id: string, text: string) => ({ id, text });
const task = (id: string) => ({ kind: 'task', skill: 'count', input: doc(id, id) });
const planned = (id: string) => ({ kind: 'supervisor', planner: { skill: 'plan', input: doc(id, 'plan it') } });

const fieldsOf = (run: () => unknown): string[] => {
  try {
    run();
  } catch (error) {
    if (error instanceof ContractValidationError) return error.fieldErrors.map((e) => e.field);
    throw error;
  }
  return [];
};

describe('planner and judge tasks in the step tree', () => {
  const spec = validateWorkflowSpec({
    step: {
      kind: 'chain',
      stages: [
        {
          step: task('a'),
          gate: { checks: [{ field: 'words', op: 'exists' }], judge: { skill: 'judge' }, onFail: { action: 'fail' } },
        },
        { step: planned('p') },
      ],
    },
  });

  it('finds a judge at <stage>.judge and a planner at <supervisor>.planner, as tasks', () => {
    expect(stepAt(spec, 'root.stages.0.judge')).toEqual({ kind: 'task', name: 'judge', skill: 'judge' });
    expect(stepAt(spec, 'root.stages.1.planner')).toMatchObject({
      kind: 'task',
      name: 'planner',
      skill: 'plan',
      input: doc('p', 'plan it'),
    });
    expect(parentOf('root.stages.0.judge')).toEqual({ path: 'root', link: 'judge', index: 0 });
    expect(parentOf('root.stages.1.planner')).toEqual({ path: 'root.stages.1', link: 'planner', index: 0 });
    expect(lineage('root.stages.1.planner')).toEqual(['root.stages.1.planner', 'root.stages.1']);
    expect(() => stepAt(spec, 'root.stages.1.judge')).toThrow('no step at root.stages.1.judge');
    expect(() => stepAt(spec, 'root.stages.1.children.0')).toThrow('no step at root.stages.1.children.0');
  });

  it('finds planned children once their plan is grafted in', () => {
    const withPlan = withPlans(spec, new Map([['root.stages.1', [task('b'), planned('q')]]]), 'reject');
    expect(stepAt(withPlan, 'root.stages.1.children.0')).toMatchObject({ kind: 'task', input: doc('b', 'b') });
    // the planner is still there: its late results and timers still find their step
    expect(stepAt(withPlan, 'root.stages.1.planner')).toMatchObject({ skill: 'plan' });
    // a plan under a planned child: grafted after its parent's, whatever the order given
    const nested = withPlans(
      spec,
      new Map([
        ['root.stages.1.children.1', [task('c')]],
        ['root.stages.1', [task('b'), planned('q')]],
      ]),
    );
    expect(stepAt(nested, 'root.stages.1.children.1.children.0')).toMatchObject({ input: doc('c', 'c') });
  });
});

describe('withPlans', () => {
  const root = validateWorkflowSpec({ step: { ...planned('r'), maxChildren: 2 } });
  const plan = (children: unknown) => () => withPlans(root, new Map([['root', children]]), 'reject');

  it('validates a plan as a submitted spec: kinds, fields, maxChildren, depth counted from the root', () => {
    expect(fieldsOf(plan([task('a')]))).toEqual([]);
    expect(fieldsOf(plan([{ kind: 'teleport' }]))).toEqual(['step.children.0.kind']);
    expect(fieldsOf(plan([{ kind: 'task', skill: 'count' }]))).toEqual(['step.children.0.input']);
    expect(fieldsOf(plan([{ ...task('a'), extra: 1 }]))).toEqual(['step.children.0.extra']);
    expect(fieldsOf(plan([task('a'), task('b'), task('c')]))).toEqual(['step.children']);
    expect(fieldsOf(plan([]))).toEqual(['step.children']);
    expect(fieldsOf(plan('three tasks'))).toEqual(['step.children']);
    let deep: object = task('d');
    for (let i = 0; i < 7; i++) deep = { kind: 'supervisor', children: [deep] };
    expect(fieldsOf(plan([deep]))).toEqual([
      'step.children.0.children.0.children.0.children.0.children.0.children.0.children.0.children.0',
    ]);
  });

  it('keeps the rule for submissions: a supervisor gives exactly one of children and planner', () => {
    const both = { ...planned('x'), children: [task('a')] };
    expect(fieldsOf(() => validateWorkflowSpec({ step: both }))).toEqual(['step.children']);
    expect(fieldsOf(() => validateWorkflowSpec({ step: both }, 'reject', 'planned'))).toEqual([]);
  });

  it('reads the plan at children, or at json.children (an llm skill structured output)', () => {
    expect(plannedChildren({ children: [1] })).toEqual([1]);
    expect(plannedChildren({ json: { children: [2] }, text: '...' })).toEqual([2]);
    expect(plannedChildren({ text: '{"children": []}' })).toBeUndefined();
  });
});
