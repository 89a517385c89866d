import { SolverStartV1, Topics } from '@agent-mesh/contracts';
import type { StepUnit } from '../step-unit';

/** Solver rounds: `solver.start` to the market maker, whose `solver.completed` / `.failed` ends it. */
export function solverRoundsUnit(): StepUnit<'solver-rounds'> {
  return {
    start: (step, { plan, path }) => ({
      work: [
        plan.events.command(Topics.marketRounds, SolverStartV1, {
          stepPath: path,
          skill: step.skill,
          input: step.input,
          params: step.params,
          solvers: step.solvers,
          rounds: step.rounds,
          strategy: step.strategy,
        }),
      ],
    }),
  };
}
