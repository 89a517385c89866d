import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { DeadLetterProperties, PulsarWsEventBus } from '@agent-mesh/bus';
import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import { runMeshCli, type CliContext, type CliOutput } from '@agent-mesh/cli';
import { PulsarAdmin } from '@agent-mesh/pulsar-admin';
import { createDefaultSkillRegistry, type Skill, type SkillInput, type SkillOutput } from '@agent-mesh/skills';
import {
  eventually,
  InProcessMesh,
  PulsarNamespace,
  RedisFixture,
  startAgents,
  WORKFLOW_ROLES,
  WorkflowClient,
  type AgentProcess,
} from '@agent-mesh/testing';

/** Word count that throws (a retryable error) on "bad …" inputs until it is fixed. */
class MoodySkill implements Skill {
  readonly name = 'moody';
  readonly description = 'fails on bad inputs until fixed (test)';
  readonly retry = { attempts: 2, initialDelayMs: 50 };
  fixed = false;
  async run(input: SkillInput): Promise<SkillOutput> {
    if (input.text.startsWith('bad') && !this.fixed) throw new Error(`cannot cope with ${input.id} yet`);
    return { words: input.text.split(/\s+/).length };
  }
  combine(outputs: readonly { readonly output: SkillOutput }[]): SkillOutput {
    return { words: outputs.reduce((sum, o) => sum + Number(o.output['words']), 0) };
  }
}

interface ListedLetter {
  readonly id: string;
  readonly originTopic: string;
  readonly reason: string;
  readonly attempts: number;
  readonly replays: number;
  readonly correlationId?: string;
}

/*
 * The dead-letter tools end to end, on the real broker and Redis with the agents in process: a
 * skill that fails on some inputs dead-letters their tasks once its retries are spent (the
 * workflows stay running, no task.failed); the skill is fixed; `mesh dlq replay` — once as a
 * function, once as the real CLI process — completes the workflows, and each dead letter is
 * replayed once.
 */
describeWithPulsar('mesh dlq replay completes parked workflows (pulsar-ws, Redis)', (env) => {
  const namespace = new PulsarNamespace(env, 'dlq');
  const redis = new RedisFixture();
  const mesh = new InProcessMesh();
  const moody = new MoodySkill();
  const agents: AgentProcess[] = [];
  let client: WorkflowClient;
  let cli: CliContext;
  const lines: string[] = [];
  const output: CliOutput = { out: (line) => lines.push(line), err: (line) => lines.push(`ERR ${line}`) };

  beforeAll(async () => {
    await assertPulsarAnswers(env);
    await namespace.create();
    const registry = createDefaultSkillRegistry();
    registry.register(moody);
    const meshEnv = {
      ...namespace.meshEnv(),
      PULSAR_SERVICE_URL: '',
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: redis.keyPrefix,
    };
    agents.push(...(await startAgents(mesh, WORKFLOW_ROLES, () => ({ skills: registry, env: meshEnv }))));
    client = new WorkflowClient(agents[0].url, { timeoutMs: 30_000 });
    const admin = new PulsarAdmin({ webUrl: env.webUrl });
    cli = {
      bus: new PulsarWsEventBus({ webUrl: env.webUrl }),
      env: {},
      naming: namespace.naming,
      backlog: (topic, subscription) => admin.backlog(topic, subscription),
      output,
    };
  }, 60_000);

  afterAll(async () => {
    await cli?.bus.close();
    await mesh.stopAll();
    await redis.cleanup();
    await namespace.delete();
  }, 60_000);

  async function mesh_(...argv: string[]): Promise<number> {
    lines.length = 0;
    return runMeshCli(argv, { connect: async () => cli });
  }

  async function listed(): Promise<ListedLetter[]> {
    expect(await mesh_('dlq', 'list', '--json')).toBe(0);
    return JSON.parse(lines.join('\n')) as ListedLetter[];
  }

  const task = (id: string, text: string) => ({ step: { kind: 'task', skill: 'moody', input: { id, text } } });

  it('dead-letters the failing tasks, then replays them once the skill is fixed', async () => {
    const good = await client.submit(task('g', 'fine words here'));
    const bad1 = await client.submit(task('b1', 'bad one'));
    const bad2 = await client.submit(task('b2', 'bad two'));
    expect((await client.finished(good)).status).toBe('completed');

    const letters = await eventually(
      'two dead letters',
      async () => {
        const all = await listed();
        return all.length === 2 ? all : undefined;
      },
      30_000,
    );
    expect(letters.map((l) => l.correlationId).sort()).toEqual([bad1, bad2].sort());
    for (const letter of letters) {
      expect(letter.originTopic).toBe(`persistent://${namespace.tenant}/${namespace.name}/tasks.moody`);
      expect(letter.reason).toMatch(
        /^retries exhausted after 2 attempt\(s\): handler failed: Error: cannot cope with b\d yet$/,
      );
      expect(letter.attempts).toBe(2);
    }
    // parked: no task.failed, the workflows still wait
    expect((await client.get(bad1)).status).toBe('running');
    expect((await client.get(bad2)).status).toBe('running');

    expect(await mesh_('dlq', 'show', letters[0].id)).toBe(0);
    expect(lines.join('\n')).toContain(`${DeadLetterProperties.error}:`);
    expect(lines.join('\n')).toContain('"type": "task.assigned"');

    moody.fixed = true;
    const first = letters.find((l) => l.correlationId === bad1)!;
    expect(await mesh_('dlq', 'replay', first.id)).toBe(0);
    expect((await client.finished(bad1)).status).toBe('completed');
    // a second replay of the same id finds nothing: replayed once
    expect(await mesh_('dlq', 'replay', first.id)).toBe(1);

    // the real CLI process, configured from the environment like the agents
    const run = await promisify(execFile)(
      process.execPath,
      [resolve(__dirname, '../../../apps/cli/bin/mesh.js'), 'dlq', 'replay', '--all', '--topic', 'tasks.moody'],
      { env: { ...process.env, ...namespace.meshEnv(), PULSAR_SERVICE_URL: '' }, timeout: 60_000 },
    );
    expect(run.stdout).toContain('replayed 1 dead letter(s)');
    expect((await client.finished(bad2)).status).toBe('completed');
    expect(await listed()).toEqual([]);
  }, 120_000);
});
