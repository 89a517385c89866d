/**
 * The `mesh` command-line tool's logic (apps/cli is its shell): command groups (src/commands,
 * one file per group), the dead-letter tools (dead-letters.ts). Start at cli.ts.
 */
export { runMeshCli, type CliOptions } from './cli';
export { type CliContext, type CliOutput, type CommandGroup, UsageError } from './command';
export { DeadLetterSession, type DeadLetter, type DeadLetterFilter } from './dead-letters';
