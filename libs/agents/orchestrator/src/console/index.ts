export { ConsoleController } from './console.controller';
export { ConsoleFeed, type ConsoleEvent, type WorkflowChange } from './console-feed';
