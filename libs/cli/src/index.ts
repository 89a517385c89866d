/**
 * The `mesh` command-line tool's logic (apps/cli is its shell): command groups (src/commands,
 * one file per group), the orchestrator's HTTP API as the CLI uses it (api.ts), the views that
 * redraw in place on a terminal and print a line per change elsewhere (live-view.ts), readers
 * that follow topics (topic-follower.ts), the dead-letter tools (dead-letters.ts). Start at cli.ts.
 */
export { runMeshCli, type CliOptions } from './cli';
export {
  type ApiContext,
  type CliContext,
  type CliOutput,
  type CommandGroup,
  type TerminalOutput,
  ConfigError,
  UsageError,
} from './command';
export { ApiError, MeshApi, DEFAULT_API_URL, type MeshApiOptions } from './api';
export { DeadLetterSession, type DeadLetter, type DeadLetterFilter } from './dead-letters';
