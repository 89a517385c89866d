import { describeError } from '@agent-mesh/contracts';
import { ApiError } from './api';
import { ConfigError, UsageError, type CliContext, type CliOutput, type CommandGroup } from './command';
import { COMMAND_GROUPS } from './commands';
import { connectFromEnvironment } from './connect';

export interface CliOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly output?: CliOutput;
  /** Tests pass their own connection instead of the environment's. */
  readonly connect?: (output: CliOutput) => Promise<CliContext>;
}

function standardOutput(env: Readonly<Record<string, string | undefined>>): CliOutput {
  const terminal = process.stdout.isTTY && env['TERM'] !== 'dumb';
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    terminal: terminal
      ? {
          write: (text) => process.stdout.write(text),
          get columns() {
            return process.stdout.columns || 80;
          },
          get rows() {
            return process.stdout.rows || 24;
          },
        }
      : undefined,
  };
}

/**
 * `mesh <group> <command> [options]`: runs one command and resolves with the exit code —
 * 0 done, 1 failed (e.g. an unknown id, a workflow that did not complete), 2 a usage mistake,
 * 3 bad configuration.
 */
export async function runMeshCli(argv: readonly string[], options: CliOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  const output = options.output ?? standardOutput(env);
  const [name, ...args] = argv;
  const group = COMMAND_GROUPS.find((g) => g.name === name);
  if (!group || args.includes('--help') || args.includes('-h')) {
    if (name && name !== '--help' && name !== '-h' && !group) output.err(`unknown command "${name}"`);
    printUsage(group ? [group] : COMMAND_GROUPS, group || !name || name.startsWith('-') ? output.out : output.err);
    return group || !name || name.startsWith('-') ? 0 : 2;
  }
  if (group.uses === 'api') return runCommand(name, group, () => group.run(args, { output, env }), output);
  let context: CliContext;
  try {
    context = await (options.connect ?? ((o) => connectFromEnvironment(env, o)))(output);
  } catch (error) {
    output.err(error instanceof Error ? error.message : describeError(error));
    return 3;
  }
  try {
    return await runCommand(name, group, () => group.run(args, context), output);
  } finally {
    if (!options.connect) await context.bus.close();
  }
}

/** Runs a command, turning what it throws into the message and exit code (see runMeshCli). */
async function runCommand(
  name: string,
  group: CommandGroup,
  run: () => Promise<number>,
  output: CliOutput,
): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS')) {
      output.err((error as Error).message);
      printUsage([group], output.err);
      return 2;
    }
    if (error instanceof ConfigError) {
      output.err(error.message);
      return 3;
    }
    output.err(`mesh ${name}: ${error instanceof ApiError ? error.message : describeError(error)}`);
    return 1;
  }
}

function printUsage(groups: readonly CommandGroup[], write: (line: string) => void): void {
  write('usage:');
  for (const group of groups) {
    write(`  mesh ${group.name}: ${group.summary}`);
    for (const line of group.usage) write(`    ${line}`);
  }
}
