import type { EventBus } from '@agent-mesh/bus';
import type { TopicNaming } from '@agent-mesh/contracts';

/** Where a command writes; the real CLI passes process.stdout/stderr, tests collect the lines. */
export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
  /**
   * Set only when stdout is a terminal: raw writes (ANSI colour, cursor movement) for views that
   * redraw in place. Without it a command prints plain lines, one per change.
   */
  readonly terminal?: TerminalOutput;
}

export interface TerminalOutput {
  write(text: string): void;
  readonly columns: number;
  readonly rows: number;
}

/** What a command runs against, built from the environment (see connect.ts). */
export interface CliContext {
  readonly bus: EventBus;
  readonly naming: TopicNaming;
  /** The backlog of a subscription, when the broker's admin API is at hand. */
  readonly backlog?: (topic: string, subscription: string) => Promise<number>;
  /** The persistent topics of the mesh's namespace (fully qualified), when the broker's admin API is at hand. */
  readonly topics?: () => Promise<string[]>;
  readonly output: CliOutput;
  /** The settings the connection was made from (a command that connects more, e.g. to Redis, reads them). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** What a command that only talks to the orchestrator's HTTP API runs against (no broker connection). */
export interface ApiContext {
  readonly output: CliOutput;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** A group of commands (`mesh dlq …`): one file per group, registered in commands/index.ts. */
export type CommandGroup = BrokerCommandGroup | ApiCommandGroup;

interface CommandGroupBase {
  readonly name: string;
  readonly summary: string;
  /** Usage lines, shown by `mesh <group> --help` and on a usage error. */
  readonly usage: readonly string[];
}

/** A group that works on the broker: the CLI connects before it runs. */
export interface BrokerCommandGroup extends CommandGroupBase {
  readonly uses?: 'broker';
  /** Runs `args` (what follows the group's name); resolves with the exit code. */
  run(args: readonly string[], context: CliContext): Promise<number>;
}

/** A group that talks to the orchestrator's HTTP API only (MESH_API_URL): no broker settings needed. */
export interface ApiCommandGroup extends CommandGroupBase {
  readonly uses: 'api';
  run(args: readonly string[], context: ApiContext): Promise<number>;
}

/** A mistake in the command line: the CLI prints it with the usage and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A setting (environment variable) is wrong or missing: the CLI prints it and exits 3. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
