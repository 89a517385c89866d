import { parseArgs } from 'node:util';
import { formatReplayReport, replayFailed, runReplayCommand } from '@agent-mesh/replay';
import { UsageError, type CommandGroup } from '../command';

/** `mesh replay --workflow <id>… | --all-running`: rebuilds workflows' Redis state from the log (libs/replay). */
export const replayCommands: CommandGroup = {
  name: 'replay',
  summary: "rebuild workflows' state in Redis from the log; the agents carry on from it",
  usage: [
    'mesh replay --workflow <id> [--workflow <id> …]',
    'mesh replay --all-running        (every workflow the log says is running, whatever Redis holds)',
    '  (needs REDIS_URL, the agents’ Redis, besides the broker settings)',
  ],
  async run(args, context) {
    const { values } = parseArgs({
      args: [...args],
      options: { workflow: { type: 'string', multiple: true }, 'all-running': { type: 'boolean' } },
    });
    const workflow = values.workflow ?? [];
    const allRunning = values['all-running'] ?? false;
    if (workflow.length === 0 && !allRunning)
      throw new UsageError('name the workflows (--workflow <id>) or use --all-running');
    if (workflow.length > 0 && allRunning) throw new UsageError('--workflow and --all-running exclude each other');
    const env = Object.fromEntries(
      Object.entries({ MESH_TRANSPORT: 'pulsar', ...context.env }).filter(
        (entry): entry is [string, string] => entry[1] !== undefined,
      ),
    );
    if (!env['REDIS_URL']) {
      context.output.err('mesh replay rebuilds the agents’ state: set REDIS_URL to their Redis');
      return 3;
    }
    const report = await runReplayCommand({ workflow, allRunning, env });
    context.output.out(formatReplayReport(report));
    return replayFailed(report) ? 1 : 0;
  },
};
