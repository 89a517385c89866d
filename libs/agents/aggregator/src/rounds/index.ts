export { SolverAnswersController } from './solver-answers.controller';
