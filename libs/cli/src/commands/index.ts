import type { CommandGroup } from '../command';
import { dlqCommands } from './dlq';
import { replayCommands } from './replay';

/** Every command group of `mesh`, by name. Add a group: one file in this folder, one line here. */
export const COMMAND_GROUPS: readonly CommandGroup[] = [dlqCommands, replayCommands];
