import type { CommandGroup } from '../command';
import { dlqCommands } from './dlq';
import { geoCommands } from './geo';
import { replayCommands } from './replay';
import { tailCommand } from './tail';
import { topCommand } from './top';
import { approveCommand, lsCommand, statusCommand, submitCommand } from './workflows';

/** Every command group of `mesh`, by name. Add a group: one file in this folder, one line here. */
export const COMMAND_GROUPS: readonly CommandGroup[] = [
  submitCommand,
  statusCommand,
  approveCommand,
  lsCommand,
  tailCommand,
  topCommand,
  dlqCommands,
  replayCommands,
  geoCommands,
];
