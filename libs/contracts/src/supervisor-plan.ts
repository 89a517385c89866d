import { stepAt } from './step-tree';
import { ContractValidationError, type UnknownFields } from './validation';
import { validateWorkflowSpec, type StepSpec, type WorkflowSpec } from './workflow-spec';

/**
 * A planned supervisor's children are decided at run time by its planner. Each plan is
 * recorded (by supervisor path) and the workflow's spec is read with its plans grafted in: a
 * step's spec is resolved through the spec plus the recorded plans, so the engine finds a
 * planned child where it finds any other.
 */

/** The children a planner's output gives: `children`, or `json.children` (an llm skill's structured output). */
export function plannedChildren(output: Record<string, unknown>): unknown {
  if (output['children'] !== undefined) return output['children'];
  const json = output['json'];
  return json !== null && typeof json === 'object' ? (json as Record<string, unknown>)['children'] : undefined;
}

/**
 * The spec with `plans` (supervisor path → children) grafted in, validated as a whole: a plan's
 * steps are checked exactly as a submitted spec's are — kinds, fields, depth counted from the
 * root, the workflow's step count, the supervisor's maxChildren. Throws ContractValidationError
 * naming the bad fields by their place in the workflow (`step.children.1.kind`). A new plan is
 * refused for unknown fields (`reject`); recorded ones are read back as kept.
 */
export function withPlans(
  spec: WorkflowSpec,
  plans: ReadonlyMap<string, unknown>,
  unknownFields: UnknownFields = 'keep',
): WorkflowSpec {
  const plain = JSON.parse(JSON.stringify(spec)) as WorkflowSpec;
  // Parents first: a planned child may be a planned supervisor itself.
  const paths = [...plans.keys()].sort((a, b) => a.length - b.length);
  for (const path of paths) {
    const children = plans.get(path);
    const field = `step${path.slice('root'.length)}.children`;
    if (!Array.isArray(children))
      throw new ContractValidationError('plan', [{ field, messages: ['a plan is { "children": [step, ...] }'] }]);
    const supervisor = stepAt(plain, path, 'supervisor');
    if (!supervisor.planner) throw new Error(`the supervisor at ${path} has no planner`);
    supervisor.children = children as StepSpec[];
  }
  return validateWorkflowSpec(plain, unknownFields, 'planned');
}
