import type { StepDeps, StepUnits } from '../step-unit';
import { approvalUnit } from './approval';
import { blackboardUnit } from './blackboard';
import { chainUnit } from './chain';
import { fanOutUnit } from './fan-out';
import { marketUnit } from './market';
import { sagaUnit } from './saga';
import { solverRoundsUnit } from './solver-rounds';
import { supervisorUnit } from './supervisor';
import { taskUnit } from './task';

export { branchesTimedOut, branchesTimer, branchRetryDelayMs, branchTask } from './fan-out';
export { approvedOutput, rejectedReason } from './approval';
export { askRoundOf, marketAsk } from './market';

/** Every step kind's unit: the one registration a new kind needs. */
export function createStepUnits(deps: StepDeps): StepUnits {
  return {
    task: taskUnit(deps),
    'fan-out': fanOutUnit(deps),
    chain: chainUnit(deps),
    supervisor: supervisorUnit(deps),
    saga: sagaUnit(),
    market: marketUnit(deps),
    'solver-rounds': solverRoundsUnit(),
    blackboard: blackboardUnit(),
    approval: approvalUnit(),
  };
}
