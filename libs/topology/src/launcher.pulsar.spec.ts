import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import { readLauncherState, runningProcesses, type LauncherIo, type LauncherState } from './launcher';

const root = join(__dirname, '..', '..', '..');

/** `npm run mesh:local -- <args>` as a user runs it (through the same script), in a state folder of the test's. */
function meshLocal(stateDir: string, ...args: string[]): { code: number | null; output: string } {
  const run = spawnSync('npm', ['run', '-s', 'mesh:local', '--', ...args], {
    cwd: root,
    env: { ...process.env, MESH_LOCAL_DIR: stateDir },
    encoding: 'utf8',
    timeout: 240_000,
  });
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

interface BranchView {
  readonly status: string;
  readonly worker?: string;
}

async function waitForEnd(id: string): Promise<{ status: string; branches: BranchView[] }> {
  for (let i = 0; i < 120; i++) {
    const response = await fetch(`http://127.0.0.1:3000/workflows/${id}`);
    const view = (await response.json()) as { status: string; branches: BranchView[] };
    if (!['accepted', 'running'].includes(view.status)) return view;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`workflow ${id} did not end within 60 s`);
}

describeWithPulsar('npm run mesh:local (the local launcher, real processes)', (env) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'mesh-local-'));
  const io: LauncherIo = { root, stateDir, log: () => undefined };
  let state: LauncherState | undefined;

  beforeAll(() => assertPulsarAnswers(env));
  afterAll(() => {
    if (readLauncherState(io)) meshLocal(stateDir, 'down');
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('`-- --workers 3` brings the mesh up: every role, three workers, each answering /health', () => {
    const up = meshLocal(stateDir, '--workers', '3');
    expect({ code: up.code, output: up.output }).toEqual({
      code: 0,
      output: expect.stringContaining('up: orchestrator at http://127.0.0.1:3000'),
    });
    state = readLauncherState(io);
    expect(state?.agents.map((a) => a.name).sort()).toEqual(
      [
        'aggregator-us-east',
        'market-maker-us-east',
        'orchestrator-us-east',
        'saga-coordinator-us-east',
        'worker-us-east-1',
        'worker-us-east-2',
        'worker-us-east-3',
      ].sort(),
    );
  });

  it('a workflow submitted to it completes, its tasks spread over the three workers', async () => {
    const inputs = Array.from({ length: 30 }, (_, i) => ({
      id: `doc-${i}`,
      text: `Document ${i} speaks of bees, rivers and stars number ${i}.`,
    }));
    const submitted = await fetch('http://127.0.0.1:3000/workflows', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ skill: 'keywords', inputs, params: { top: 2 } }),
    });
    expect(submitted.status).toBe(202);
    const { workflowId } = (await submitted.json()) as { workflowId: string };
    const view = await waitForEnd(workflowId);
    expect(view.status).toBe('completed');
    expect(view.branches).toHaveLength(30);
    expect(new Set(view.branches.map((b) => b.worker))).toEqual(
      new Set(['worker@worker-us-east-1', 'worker@worker-us-east-2', 'worker@worker-us-east-3']),
    );
  });

  it('`-- down` leaves nothing running', async () => {
    expect(state).toBeDefined();
    const down = meshLocal(stateDir, 'down');
    expect(down.code).toBe(0);
    expect(readLauncherState(io)).toBeUndefined();
    expect(runningProcesses(state as LauncherState)).toEqual([]);
    const answers = await fetch('http://127.0.0.1:3000/health').then(
      () => true,
      () => false,
    );
    expect(answers).toBe(false);
  });
});
