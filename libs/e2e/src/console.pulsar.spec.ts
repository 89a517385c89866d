import { execFileSync } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import type { WorkflowView } from '@agent-mesh/agents/orchestrator';
import { PulsarNamespace, RedisFixture } from '@agent-mesh/testing';
import type { AgentProcess } from '@agent-mesh/topology';
import { buildConsole, launchChromium, openConsole, screenshot, WORKSPACE } from './support/console-browser';
import { SuiteAgents } from './support/suite-agents';

const KEY = 'console-pulsar-key-0123456789';

/*
 * The console on the real mesh: agents as processes (the launcher's, dist/<app>) on a real Pulsar broker and
 * Redis, the orchestrator serving dist/console from its default place, a headless Chromium
 * following its event stream — which reads workflow.events, mesh.agents and mesh.stats with
 * Pulsar Readers. Screenshot: tmp/e2e/console/pulsar-workflow.png.
 */
describeWithPulsar('the console on a real broker (processes, Redis, headless Chromium)', (env) => {
  const redis = new RedisFixture();
  const namespace = new PulsarNamespace(env, 'console');
  const mesh = new SuiteAgents({
    pulsar: env,
    redisUrl: redis.url,
    env: { ...namespace.meshEnv(), MESH_API_KEYS: KEY, REDIS_KEY_PREFIX: redis.keyPrefix },
  });
  let orchestrator: AgentProcess;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    await assertPulsarAnswers(env);
    await redis.connect();
    for (const app of ['orchestrator', 'aggregator', 'worker'])
      execFileSync(process.execPath, ['tools/build-app.js', app], { cwd: WORKSPACE, stdio: 'pipe' });
    buildConsole();
    await namespace.create();
    orchestrator = await mesh.start('orchestrator-e2e');
    await Promise.all([mesh.start('aggregator-e2e'), mesh.start('worker-e2e')]);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await mesh.stopAll();
    await namespace.delete();
    await redis.cleanup();
  }, 120_000);

  it('shows a workflow submitted while it watches, live, with its steps and timeline', async () => {
    await openConsole(page, orchestrator.url, KEY);
    const submitted = await fetch(`${orchestrator.url}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({
        name: 'console-on-pulsar',
        step: {
          kind: 'fan-out',
          skill: 'keywords',
          inputs: [
            { id: 'p-a', text: 'brokers replicate topics across regions' },
            { id: 'p-b', text: 'readers follow topics without a subscription' },
          ],
        },
      }),
    });
    expect(submitted.status).toBe(202);
    const { workflowId } = (await submitted.json()) as { workflowId: string };

    const row = page.locator(`tr[data-workflow-id="${workflowId}"]`);
    await row.filter({ hasText: 'completed' }).waitFor({ timeout: 60_000 });
    expect(await row.innerText()).toMatch(/console-on-pulsar[\s\S]*fan-out/);

    await row.click();
    const root = page.getByTestId('step-tree').locator('[data-step-path="root"]');
    await root.waitFor();
    expect(await root.getAttribute('data-step-status')).toBe('completed');
    expect(await root.locator('.branch.completed').count()).toBe(2);
    const workflow = (await (
      await fetch(`${orchestrator.url}/workflows/${workflowId}`, { headers: { authorization: `Bearer ${KEY}` } })
    ).json()) as WorkflowView;
    await page.getByTestId('timeline').locator('tr[data-type="workflow.completed"]').waitFor();
    expect(await page.getByTestId('timeline').locator('tbody tr').count()).toBe(workflow.timeline.length);
    expect(await page.getByTestId('timeline').innerText()).toContain('worker@worker-e2e');
    await screenshot(page, 'pulsar-workflow');
  }, 120_000);
});
