export { BlackboardController } from './blackboard.controller';
export { BlackboardService, type BlackboardView } from './blackboard.service';
export { BoardsController } from './boards.controller';
export type { BoardEntry, BoardView } from './board-store';
