import type { EventBus } from '@agent-mesh/bus';
import type { TopicNaming } from '@agent-mesh/contracts';

/** Where a command writes; the real CLI passes process.stdout/stderr, tests collect the lines. */
export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

/** What a command runs against, built from the environment (see connect.ts). */
export interface CliContext {
  readonly bus: EventBus;
  readonly naming: TopicNaming;
  /** The backlog of a subscription, when the broker's admin API is at hand. */
  readonly backlog?: (topic: string, subscription: string) => Promise<number>;
  readonly output: CliOutput;
  /** The settings the connection was made from (a command that connects more, e.g. to Redis, reads them). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** A group of commands (`mesh dlq …`): one file per group, registered in commands/index.ts. */
export interface CommandGroup {
  readonly name: string;
  readonly summary: string;
  /** Usage lines, shown by `mesh <group> --help` and on a usage error. */
  readonly usage: readonly string[];
  /** Runs `args` (what follows the group's name); resolves with the exit code. */
  run(args: readonly string[], context: CliContext): Promise<number>;
}

/** A mistake in the command line: the CLI prints it with the usage and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
