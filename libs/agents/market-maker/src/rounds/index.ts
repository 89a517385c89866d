export { SolverRoundsController, solverTaskId } from './solver-rounds.controller';
