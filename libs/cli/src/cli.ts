import { describeError } from '@agent-mesh/contracts';
import { UsageError, type CliContext, type CliOutput, type CommandGroup } from './command';
import { COMMAND_GROUPS } from './commands';
import { connectFromEnvironment } from './connect';

export interface CliOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly output?: CliOutput;
  /** Tests pass their own connection instead of the environment's. */
  readonly connect?: (output: CliOutput) => Promise<CliContext>;
}

const STD_OUTPUT: CliOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * `mesh <group> <command> [options]`: runs one command and resolves with the exit code —
 * 0 done, 1 failed (e.g. an unknown id), 2 a usage mistake, 3 bad configuration.
 */
export async function runMeshCli(argv: readonly string[], options: CliOptions = {}): Promise<number> {
  const output = options.output ?? STD_OUTPUT;
  const [name, ...args] = argv;
  const group = COMMAND_GROUPS.find((g) => g.name === name);
  if (!group || args.includes('--help') || args.includes('-h')) {
    if (name && name !== '--help' && name !== '-h' && !group) output.err(`unknown command "${name}"`);
    printUsage(group ? [group] : COMMAND_GROUPS, group || !name || name.startsWith('-') ? output.out : output.err);
    return group || !name || name.startsWith('-') ? 0 : 2;
  }
  let context: CliContext;
  try {
    context = await (options.connect ?? ((o) => connectFromEnvironment(options.env ?? process.env, o)))(output);
  } catch (error) {
    output.err(error instanceof Error ? error.message : describeError(error));
    return 3;
  }
  try {
    return await group.run(args, context);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS')) {
      output.err((error as Error).message);
      printUsage([group], output.err);
      return 2;
    }
    output.err(`mesh ${name}: ${describeError(error)}`);
    return 1;
  } finally {
    if (!options.connect) await context.bus.close();
  }
}

function printUsage(groups: readonly CommandGroup[], write: (line: string) => void): void {
  write('usage:');
  for (const group of groups) {
    write(`  mesh ${group.name}: ${group.summary}`);
    for (const line of group.usage) write(`    ${line}`);
  }
}
