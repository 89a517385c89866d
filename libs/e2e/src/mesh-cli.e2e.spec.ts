import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  InProcessMesh,
  startAgent,
  startAgents,
  WORKFLOW_ROLES,
  WorkflowClient,
  type AgentProcess,
} from '@agent-mesh/testing';
import { runMeshProcess } from './support/mesh-cli-process';

const ANSI = new RegExp(String.fromCharCode(27));
const KEY = 'cli-key-0123456789abcdef';

/**
 * `mesh submit | status | ls` as the real CLI process (its output a pipe, not a terminal)
 * against a running mesh: the orchestrator's HTTP API with an aggregator and two workers on the
 * memory bus. `submit` follows a workflow to its end by polling its state.
 */
describe('mesh submit, status, ls (the CLI process against a running mesh)', () => {
  // each test starts a few CLI processes (seconds each on a loaded machine)
  jest.setTimeout(120_000);

  const mesh = new InProcessMesh();
  /** An orchestrator that wants an API key: a mesh of its own (in-process agents keep their state in memory). */
  const keyedMesh = new InProcessMesh();
  let agents: AgentProcess[];
  let keyed: AgentProcess;
  let client: WorkflowClient;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    agents = await startAgents(mesh, WORKFLOW_ROLES);
    keyed = await startAgent(keyedMesh, { role: 'orchestrator', instanceId: 'keyed', env: { MESH_API_KEYS: KEY } });
    client = new WorkflowClient(agents[0].url, { timeoutMs: 30_000 });
    env = { MESH_API_URL: agents[0].url };
    dir = await mkdtemp(join(tmpdir(), 'mesh-cli-'));
  });

  afterAll(async () => {
    await mesh.stopAll();
    await keyedMesh.stopAll();
    await rm(dir, { recursive: true, force: true });
  });

  async function specFile(name: string, spec: unknown): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, JSON.stringify(spec));
    return path;
  }

  const chain = {
    name: 'summary-keywords',
    step: {
      kind: 'chain',
      stages: [
        {
          step: {
            kind: 'task',
            skill: 'summarize',
            input: { id: 'a', text: 'Bees visit flowers. Flowers feed bees. Bees make honey from what flowers give.' },
          },
        },
        { step: { kind: 'task', skill: 'keywords', inputFrom: { source: 'previous', field: 'summary' } } },
      ],
    },
  };
  const wordless = { step: { kind: 'task', skill: 'readability', input: { id: 'w', text: '!!! ??? ...' } } };

  it('submit follows a workflow that completes: progress lines, its events, the result, exit 0', async () => {
    const run = await runMeshProcess(['submit', await specFile('chain.json', chain)], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    const id = /^submitted (\S+)$/.exec(lines[0])?.[1];
    expect(id).toBeDefined();
    expect(run.stdout).not.toMatch(ANSI);
    // one line per change: the last progress line is the end, every step done
    expect(lines).toContainEqual(expect.stringMatching(/^completed {2}steps 3\/3 {2}\d+\.\d+ s$/));
    expect(lines).toContainEqual(
      expect.stringMatching(/^ {2}\d\d:\d\d:\d\d\.\d{3} {2}step\.completed {2}root\.stages\.1 /),
    );
    expect(lines.at(-1)).toMatch(/^result: \{.*"keywords"/);
    expect((await client.get(id!)).status).toBe('completed');
  });

  it('submit exits 1 with the reason when the workflow fails', async () => {
    const run = await runMeshProcess(['submit', await specFile('wordless.json', wordless)], env);
    expect(run.code).toBe(1);
    const id = /^submitted (\S+)$/m.exec(run.stdout)?.[1];
    expect(run.stdout).toMatch(/^failed {2}steps 0\/1 /m);
    expect(run.stderr.trim()).toMatch(new RegExp(`^workflow ${id} failed: .*text has no words`));
  });

  it('submit --no-wait prints the id alone; the spec may come on standard input', async () => {
    const run = await runMeshProcess(['submit', '-', '--no-wait'], env, { stdin: JSON.stringify(chain) });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
    expect((await client.finished(run.stdout.trim())).status).toBe('completed');
  });

  it('status shows the state, steps, result and events; an unknown id exits 1', async () => {
    const id = await client.submit(chain);
    await client.finished(id);
    const run = await runMeshProcess(['status', id], env);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(ANSI);
    expect(run.stdout).toMatch(new RegExp(`^workflow {3}${id} {2}\\(summary-keywords\\)$`, 'm'));
    expect(run.stdout).toMatch(/^status {5}completed in \d+\.\d+ s$/m);
    expect(run.stdout).toMatch(/^ {2}root\.stages\.0 {2}task {2}completed$/m);
    expect(run.stdout).toMatch(/^result {5}\{.*"keywords"/m);
    expect(run.stdout).toMatch(/^ {2}\d\d:\d\d:\d\d\.\d{3} {2}workflow\.completed {2}root {2}orchestrator@/m);

    const json = await runMeshProcess(['status', id, '--json'], env);
    expect(JSON.parse(json.stdout)).toMatchObject({ id, status: 'completed' });

    const unknown = await runMeshProcess(['status', '01900000-0000-7000-8000-000000000000'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^mesh status: no workflow 01900000-0000-7000-8000-000000000000 \(unknown id/);
  });

  it('ls lists newest first, filters by status, and pages with the cursor', async () => {
    const first = await client.submit(chain);
    const failed = await client.submit(wordless);
    const last = await client.submit(chain);
    for (const id of [first, failed, last]) await client.finished(id);

    const page = await runMeshProcess(['ls', '--limit', '2'], env);
    expect(page.code).toBe(0);
    const lines = page.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^${last} {2}completed {2}\\S+ +\\d+\\.\\d+ s {2}summary-keywords$`));
    expect(lines[1]).toMatch(new RegExp(`^${failed} {2}failed {3}`));
    const cursor = /more: mesh ls --cursor (\S+)$/.exec(lines[2])?.[1];
    expect(lines[2]).toMatch(/^2 workflow\(s\); more: /);
    const next = await runMeshProcess(['ls', '--limit', '1', '--cursor', cursor!], env);
    expect(next.stdout.split('\n')[0]).toMatch(new RegExp(`^${first} `));

    const failures = await runMeshProcess(['ls', '--status', 'failed', '--json'], env);
    const listed = JSON.parse(failures.stdout) as { workflows: { id: string; status: string }[] };
    expect(listed.workflows.map((w) => w.id)).toContain(failed);
    expect(listed.workflows.every((w) => w.status === 'failed')).toBe(true);

    const bad = await runMeshProcess(['ls', '--status', 'done'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^--status must be one of accepted, running, completed/);
  });

  it('status shows a step waiting for approval with its prompt; approve and approve --reject decide it', async () => {
    const waiting = (tag: string) => ({
      step: {
        kind: 'chain',
        stages: [
          { step: { kind: 'approval', prompt: `Send the ${tag} newsletter?` } },
          { step: { kind: 'task', skill: 'keywords', input: { id: tag, text: 'bees visit flowers for nectar' } } },
        ],
      },
    });
    const approved = await client.submit(waiting('weekly'));
    await client.awaitingApproval(approved, 'root.stages.0');
    const status = await runMeshProcess(['status', approved], env);
    expect(status.stdout).toMatch(/^awaiting approval$/m);
    expect(status.stdout).toMatch(/^ {2}root\.stages\.0 {2}Send the weekly newsletter\?$/m);
    expect(status.stdout).toMatch(/^ {2}root\.stages\.0 {2}approval {2}awaiting approval$/m);

    const approve = await runMeshProcess(['approve', approved, 'root.stages.0', '--comment', 'looks good'], env);
    expect(approve.stderr).toBe('');
    expect(approve.stdout.trim()).toBe(`approved root.stages.0 of ${approved}: mesh status ${approved} follows it`);
    expect((await client.finished(approved)).status).toBe('completed');
    const again = await runMeshProcess(['approve', approved, 'root.stages.0'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/\(409\): step root\.stages\.0 of workflow \S+ is not waiting for approval/);

    const rejected = await client.submit(waiting('daily'));
    await client.awaitingApproval(rejected, 'root.stages.0');
    const reject = await runMeshProcess(
      ['approve', rejected, 'root.stages.0', '--reject', '--comment', 'too early'],
      env,
    );
    expect(reject.code).toBe(0);
    expect(await client.finished(rejected)).toMatchObject({
      status: 'failed',
      reason: 'root.stages.0 failed: rejected: too early',
    });

    const noKey = await runMeshProcess(['approve', rejected, 'root.stages.0'], { MESH_API_URL: keyed.url });
    expect(noKey.stderr).toMatch(/needs an API key \(401\)/);
    const usage = await runMeshProcess(['approve', rejected], env);
    expect(usage.code).toBe(2);
  });

  it('says clearly what is wrong: spec errors with their fields, 401, an unreachable orchestrator, a bad URL', async () => {
    const badInputs = { skill: 'keywords', inputs: [{ id: 'a', text: '' }, { text: 'no id' }] };
    const invalid = await runMeshProcess(['submit', await specFile('bad.json', badInputs)], env);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(
      /^mesh submit: the orchestrator refused POST \/workflows \(400\): invalid workflow request$/m,
    );
    expect(invalid.stderr).toMatch(/^ {2}inputs\.0\.text: text should not be empty$/m);
    expect(invalid.stderr).toMatch(/^ {2}inputs\.1\.id: /m);
    const unknownSkill = { step: { kind: 'task', skill: 'nope', input: { id: 'x', text: 'y' } } };
    const refused = await runMeshProcess(['submit', await specFile('nope.json', unknownSkill)], env);
    expect(refused.stderr).toMatch(/^ {2}step\.skill: unknown skill "nope"; known: /m);

    await writeFile(join(dir, 'broken.json'), '{"step":');
    const broken = await runMeshProcess(['submit', join(dir, 'broken.json')], env);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/is not JSON/);

    const noKey = await runMeshProcess(['ls'], { MESH_API_URL: keyed.url });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/needs an API key \(401\): set MESH_API_KEY/);
    const wrongKey = await runMeshProcess(['ls'], { MESH_API_URL: keyed.url, MESH_API_KEY: 'not-the-key-at-all' });
    expect(wrongKey.stderr).toMatch(/refused MESH_API_KEY \(401\)/);
    const withKey = await runMeshProcess(['ls'], { MESH_API_URL: keyed.url, MESH_API_KEY: KEY });
    expect(withKey.code).toBe(0);

    const nobody = `http://127.0.0.1:${await freePort()}`;
    const down = await runMeshProcess(['status', 'x'], { MESH_API_URL: nobody });
    expect(down.code).toBe(1);
    expect(down.stderr.trim()).toBe(
      `mesh status: cannot reach the orchestrator at ${nobody} (ECONNREFUSED): is it running? MESH_API_URL says where it is`,
    );

    const badUrl = await runMeshProcess(['ls'], { MESH_API_URL: 'localhost:3000' });
    expect(badUrl.code).toBe(3);
    expect(badUrl.stderr.trim()).toBe('MESH_API_URL must be an http:// or https:// URL (got "localhost:3000")');
  });
});
