import { MemoryBroker } from '@agent-mesh/bus';
import { runMeshCli } from './cli';
import type { CliContext, CliOutput } from './command';

/** `mesh replay`'s command line; the rebuild itself is tested in libs/replay and libs/e2e (rebuild.*.spec.ts). */
describe('mesh replay (the command line)', () => {
  const run = async (argv: string[], env: Record<string, string> = {}) => {
    const lines: string[] = [];
    const output: CliOutput = { out: (line) => lines.push(line), err: (line) => lines.push(line) };
    const connect = async (): Promise<CliContext> => ({
      bus: new MemoryBroker().connect(),
      naming: { tenant: 'agentmesh', namespace: 'mesh' },
      output,
      env,
    });
    return { code: await runMeshCli(argv, { connect, output }), lines };
  };

  it('needs workflows or --all-running, not both (usage error, exit 2)', async () => {
    expect((await run(['replay'])).code).toBe(2);
    const both = await run(['replay', '--workflow', 'w1', '--all-running']);
    expect(both.code).toBe(2);
    expect(both.lines.join('\n')).toMatch(/exclude each other/);
  });

  it('needs REDIS_URL, naming it (exit 3)', async () => {
    const { code, lines } = await run(['replay', '--all-running']);
    expect(code).toBe(3);
    expect(lines.join('\n')).toMatch(/REDIS_URL/);
  });

  it('is listed in the usage', async () => {
    const { code, lines } = await run(['--help']);
    expect(code).toBe(0);
    expect(lines.join('\n')).toMatch(/mesh replay --workflow <id>/);
  });
});
