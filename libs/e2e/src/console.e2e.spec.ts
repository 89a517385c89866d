import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { WorkflowView } from '@agent-mesh/agents/orchestrator';
import { AgentHeartbeatV1, BrokerStatsV1, Topics, type AgentHeartbeat } from '@agent-mesh/contracts';
import { MeshPublisher } from '@agent-mesh/nest-pulsar';
import { eventually, InProcessMesh, startAgent, startAgents, type AgentProcess } from '@agent-mesh/testing';
import { buildConsole, launchChromium, openConsole, screenshot, WORKSPACE } from './support/console-browser';
import { PatternSkills } from './support/pattern-scenarios';

/*
 * The operator's console (apps/console) in a real headless Chromium: built as `nx build console`
 * builds it, served by an orchestrator at /console behind an API key, showing a workflow's step
 * tree and timeline, a second workflow appearing live (Server-Sent Events, no reload), and agents
 * and subscriptions from heartbeats and broker figures. Screenshots: tmp/e2e/console/.
 */
const CONSOLE_DIR = join(WORKSPACE, 'dist/console');
const KEY = 'console-key-0123456789';

const doc = (id: string, text: string) => ({ id, text });

/** A chain whose gate rejects stage 0 (its recovery runs), then a fan-out whose branch 1 is retried. */
const GATED_CHAIN = {
  name: 'console-gated-chain',
  step: {
    kind: 'chain',
    stages: [
      {
        step: { kind: 'task', skill: 'count', input: doc('c-a', 'two words') },
        gate: {
          checks: [{ field: 'words', op: 'min', value: 3 }],
          onFail: {
            action: 'recover',
            recovery: { kind: 'task', skill: 'count', input: doc('c-b', 'one two three four') },
          },
        },
      },
      {
        step: {
          kind: 'fan-out',
          skill: 'flaky',
          inputs: [doc('c-c', 'alpha beta'), doc('c-d', 'flaky gamma delta')],
          policy: { type: 'retry-branch', maxRetries: 2 },
        },
      },
    ],
  },
};

describe('the console (memory bus, headless Chromium)', () => {
  const mesh = new InProcessMesh();
  const skills = new PatternSkills();
  let orchestrator: AgentProcess;
  let browser: Browser;
  let page: Page;

  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const response = await fetch(`${orchestrator.url}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...init.headers },
    });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const submit = async (body: object) =>
    (await api<{ workflowId: string }>('/workflows', { method: 'POST', body: JSON.stringify(body) })).workflowId;
  const finished = (id: string) =>
    eventually(`workflow ${id} ended`, async () => {
      const workflow = await api<WorkflowView>(`/workflows/${id}`);
      return workflow.status === 'completed' || workflow.status === 'failed' ? workflow : undefined;
    });
  const shot = (name: string) => screenshot(page, name);

  beforeAll(async () => {
    buildConsole();
    const env = { MESH_API_KEYS: KEY, MESH_CONSOLE_DIR: CONSOLE_DIR };
    [orchestrator] = await startAgents(mesh, ['orchestrator', 'aggregator', 'worker', 'worker'], (role) => ({
      skills: skills.registry(role),
      env,
    }));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await mesh.stopAll();
  });

  it('serves the page without a key, but its event stream only with one', async () => {
    const pageAnswer = await fetch(`${orchestrator.url}/console`);
    expect(pageAnswer.status).toBe(200);
    expect(await pageAnswer.text()).toContain('/console/assets/');
    expect((await fetch(`${orchestrator.url}/console/events`)).status).toBe(401);
    expect((await fetch(`${orchestrator.url}/console/assets/..%2F..%2Fpackage.json`)).status).not.toBe(200);
  });

  it('says how to build the console when it is not built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'console-unbuilt-'));
    try {
      const bare = await startAgent(mesh, { role: 'orchestrator', env: { MESH_CONSOLE_DIR: empty } });
      const answer = await fetch(`${bare.url}/console`);
      expect(answer.status).toBe(503);
      expect(await answer.text()).toContain('npx nx build console');
      await bare.stop();
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('shows a workflow’s step tree and timeline, and a new workflow live', async () => {
    const first = await finished(await submit(GATED_CHAIN));
    expect(first.status).toBe('completed');

    await openConsole(page, orchestrator.url, KEY);

    const firstRow = page.locator(`tr[data-workflow-id="${first.id}"]`);
    await firstRow.waitFor();
    expect(await firstRow.innerText()).toMatch(/console-gated-chain[\s\S]*chain[\s\S]*completed/);
    await shot('workflows');

    await firstRow.click();
    const tree = page.getByTestId('step-tree');
    await tree.locator('[data-step-path="root.stages.1"]').waitFor();
    for (const step of first.steps)
      expect(await tree.locator(`[data-step-path="${step.path}"]`).getAttribute('data-step-status')).toBe(step.status);
    // The recovery hangs under the stage its gate rejected.
    expect(
      await tree.locator('[data-step-path="root.stages.0"] [data-step-path="root.stages.0.recovery"]').count(),
    ).toBe(1);
    const timeline = page.getByTestId('timeline');
    expect(await timeline.locator('tbody tr').count()).toBe(first.timeline.length);
    expect(await timeline.locator('tr[data-type="stage.failed"]').innerText()).toMatch(/gate/);
    expect(await timeline.locator('tr[data-type="fanout.retry"]').innerText()).toMatch(/retry/);
    expect(await timeline.locator('tr[data-type="task.completed"]').first().innerText()).toMatch(/worker-/);
    await shot('workflow');

    // Back on the list, a second workflow appears without a reload: the SSE feed.
    await page.getByRole('link', { name: '← all workflows' }).click();
    await firstRow.waitFor();
    const navigations: string[] = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));
    const second = await submit({ skill: 'count', inputs: [doc('c-e', 'live one'), doc('c-f', 'live two')] });
    const secondRow = page.locator(`tr[data-workflow-id="${second}"]`);
    await secondRow.filter({ hasText: 'completed' }).waitFor({ timeout: 15_000 });
    expect(await secondRow.innerText()).toMatch(/fan-out/);
    expect(navigations.filter((url) => !url.includes('#'))).toEqual([]);
    await shot('workflows-live');

    // The status filter asks the API for that status only.
    await page.locator('[data-status="failed"]').click();
    await page.getByText('No workflows failed yet.').waitFor();
  }, 60_000);

  it('shows a step waiting for approval with its prompt; Approve and Reject decide it', async () => {
    const waiting = (tag: string) => ({
      name: `console-approval-${tag}`,
      step: {
        kind: 'chain',
        stages: [
          { step: { kind: 'approval', prompt: `Ship the ${tag} release?` } },
          { step: { kind: 'task', skill: 'count', input: doc(`c-${tag}`, 'one two three') } },
        ],
      },
    });
    const approved = await submit(waiting('green'));
    // The page holds the key the test before gave it (sessionStorage).
    await page.goto(`${orchestrator.url}/console#/workflows/${approved}`);
    const approval = page.getByTestId('approval');
    await approval.waitFor();
    expect(await approval.innerText()).toContain('Ship the green release?');
    await shot('approval');
    await approval.getByLabel('comment').fill('all checks pass');
    await approval.getByRole('button', { name: 'Approve' }).click();
    await page.locator('[data-step-path="root.stages.1"][data-step-status="completed"]').waitFor();
    const done = await finished(approved);
    expect(done.status).toBe('completed');
    expect(done.steps.find((s) => s.path === 'root.stages.0')?.output).toMatchObject({
      approved: true,
      comment: 'all checks pass',
    });
    expect(await page.getByTestId('approval').count()).toBe(0);

    const rejected = await submit(waiting('red'));
    await page.goto(`${orchestrator.url}/console#/workflows/${rejected}`);
    await page.getByTestId('approval').getByRole('button', { name: 'Reject' }).click();
    // the decision records who made it: the console's key, by its non-secret id
    const decider = `key:${createHash('sha256').update(KEY).digest('hex').slice(0, 12)}`;
    expect(await finished(rejected)).toMatchObject({
      status: 'failed',
      reason: `root.stages.0 failed: rejected by ${decider}`,
    });
  }, 60_000);

  it('shows agents’ throughput and errors from heartbeats, and backlogs and dead letters from broker figures', async () => {
    await page.goto(`${orchestrator.url}/console#/agents`);
    await page.getByTestId('stream-state').filter({ hasText: 'live' }).waitFor();
    // What obs-metrics' publishers send (contracts AgentHeartbeatV1 on mesh.agents, BrokerStatsV1 on mesh.stats).
    const publisher = orchestrator.app.get(MeshPublisher);
    const startedAt = new Date(Date.now() - 60_000).toISOString();
    const heartbeat = (at: number, handled: number, failed: number): AgentHeartbeat => ({
      agentId: 'worker@console-w1',
      role: 'worker',
      region: 'test',
      pid: 4242,
      startedAt,
      at: new Date(at).toISOString(),
      counters: { handled, failed, deadLettered: 1, inFlight: 2 },
    });
    const now = Date.now();
    for (const beat of [heartbeat(now - 5_000, 100, 1), heartbeat(now, 150, 6)])
      await publisher.publish(Topics.agents, AgentHeartbeatV1, beat, { correlationId: beat.agentId });
    await publisher.publish(
      Topics.stats,
      BrokerStatsV1,
      {
        at: new Date().toISOString(),
        broker: 'memory',
        subscriptions: [{ topic: 'tasks.count', subscription: 'worker', backlog: 17, msgRateOut: 0, consumers: 2 }],
        deadLetters: 3,
      },
      { correlationId: 'stats' },
    );
    const row = page.locator('tr[data-agent-id="worker@console-w1"]');
    await row.filter({ hasText: '150' }).waitFor();
    // 50 handled and 5 failed over the 5 s between the two heartbeats.
    expect(await row.innerText()).toMatch(/worker[\s\S]*150[\s\S]*10\.0\/s[\s\S]*6[\s\S]*1\.0\/s[\s\S]*1[\s\S]*2/);
    await page.getByTestId('subscriptions').filter({ hasText: '17' }).waitFor();
    expect(await page.getByTestId('dead-letters').innerText()).toContain('3');
    await shot('agents');
  }, 30_000);
});
