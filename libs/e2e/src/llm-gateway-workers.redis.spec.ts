import type { WorkflowView } from '@agent-mesh/agents/orchestrator';
import { startOpenAiStub, type OpenAiStub } from '@agent-mesh/skills/testing';
import { InProcessMesh, RedisFixture, startAgents, WorkflowClient, type AgentRole } from '@agent-mesh/testing';

/*
 * Ten real workers (WorkerModule, each an in-process Nest app with its own Redis connection and
 * its own `llm` skill, registered by the runtime from LLM_BASE_URL / LLM_MODEL / LLM_MAX_RPM /
 * LLM_MAX_CONCURRENCY, so wrapped in the gateway's journal and shared limits) run a fan-out of 30
 * `llm` branches against one OpenAI-compatible stub. The limits hold across the ten: the stub's
 * request log never shows more than LLM_MAX_RPM requests in a window, nor more than
 * LLM_MAX_CONCURRENCY in flight, and every branch completes.
 *
 * The runtime's rate window is the real minute (LLM_MAX_RPM is per minute), so with 20 per minute
 * the last ten branches wait for the first grants to leave the window: the test takes a little
 * over a minute.
 */
const WORKERS = 10;
const BRANCHES = 30;
const MAX_RPM = 20;
const MAX_CONCURRENCY = 2;
const WINDOW_MS = 60_000;
/*
 * The stub stamps a request when it arrives; the limiter grants it earlier, in Redis. On this
 * loaded two-core machine the time from the grant to the arrival varies by up to a few hundred ms
 * (the ai-worker branch measured 5 arrivals in 850 ms for 4 grants per 1 s), so a request granted
 * just as the window freed a claim can arrive less than a window after the one whose claim it
 * replaced. Counting arrivals over the window less this margin tolerates such a lag; a limiter
 * that let more through would still show more than MAX_RPM inside it.
 */
const ARRIVAL_MARGIN_MS = 1_000;

describe(`${WORKERS} real workers held to one shared LLM limit (real Redis, real HTTP)`, () => {
  const redis = new RedisFixture();
  const mesh = new InProcessMesh();
  let stub: OpenAiStub;

  beforeAll(async () => {
    // Each call held 100 ms at the stub, so calls overlap and the concurrency limit has work to do.
    stub = await startOpenAiStub({ holdMs: 100 });
  });

  afterAll(async () => {
    await mesh.stopAll();
    await stub.close();
    await redis.cleanup();
  });

  it(`runs ${BRANCHES} llm branches on ${WORKERS} workers within LLM_MAX_RPM and LLM_MAX_CONCURRENCY`, async () => {
    const env = {
      LLM_BASE_URL: stub.baseUrl,
      LLM_MODEL: 'stub-model',
      LLM_MAX_RPM: String(MAX_RPM),
      LLM_MAX_CONCURRENCY: String(MAX_CONCURRENCY),
      // A task waits for its turn inside the skill: up to a window, more than the default timeout.
      TASK_TIMEOUT_MS: String(3 * WINDOW_MS),
    };
    const roles: AgentRole[] = [
      'orchestrator',
      'aggregator',
      ...Array.from({ length: WORKERS }, () => 'worker' as const),
    ];
    const [orchestrator] = await startAgents(mesh, roles, async () => ({ stateStore: await redis.connect(), env }));
    const client = new WorkflowClient(orchestrator.url);

    const workflowId = await client.submit({
      skill: 'llm',
      inputs: Array.from({ length: BRANCHES }, (_, i) => ({ id: `q${i}`, text: `question number ${i}` })),
      params: { instruction: 'Answer briefly' },
    });
    const workflow = await client.finished<WorkflowView>(workflowId, 3 * WINDOW_MS);

    expect(workflow.status).toBe('completed');
    expect(workflow.branches.map((b) => b.status)).toEqual(Array.from({ length: BRANCHES }, () => 'completed'));
    expect(workflow.branches.map((b) => b.output?.['text']).sort()).toEqual(
      Array.from({ length: BRANCHES }, (_, i) => `echo:question number ${i}`).sort(),
    );
    // The work was spread over the workers (each takes at most 4 tasks at a time).
    const workers = new Set(workflow.branches.map((b) => b.worker));
    expect(workers.size).toBeGreaterThanOrEqual(Math.ceil(BRANCHES / 4));

    // One request per branch: nothing was refused and retried.
    const arrivals = stub
      .chatRequests()
      .map((r) => r.at)
      .sort((a, b) => a - b);
    expect(arrivals).toHaveLength(BRANCHES);
    // Never more than LLM_MAX_RPM in a window (counted from each arrival, less the margin).
    const counted = WINDOW_MS - ARRIVAL_MARGIN_MS;
    const perWindow = arrivals.map((from) => arrivals.filter((at) => at >= from && at < from + counted).length);
    expect(Math.max(...perWindow)).toBe(MAX_RPM);
    // So the request after the first MAX_RPM waited for the first to leave the window.
    expect((arrivals[MAX_RPM] ?? 0) - (arrivals[0] ?? 0)).toBeGreaterThanOrEqual(counted);
    // Never more calls in flight at the endpoint than the shared concurrency limit.
    expect(stub.maxInFlight()).toBe(MAX_CONCURRENCY);
  }, 240_000);
});
