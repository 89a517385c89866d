import { Redis } from 'ioredis';
import { gatewayLlmClient } from '@agent-mesh/llm-gateway';
import {
  LlmSkill,
  OpenAiCompatibleClient,
  createDefaultSkillRegistry,
  type Skill,
  type SkillContext,
  type SkillInput,
  type SkillOutput,
} from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';
import { startOpenAiStub, type OpenAiStub } from '@agent-mesh/skills/testing';
import { eventually, InProcessMesh, RedisFixture, startAgent, startAgents, WorkflowClient } from '@agent-mesh/testing';

/*
 * The LLM journal in the mesh (real Redis, real HTTP endpoint, memory bus): a worker that dies
 * after its model call and before its ack has its task redelivered, and the endpoint is not asked
 * twice; and the runtime puts the journal and the shared limits around the LLM skill it registers.
 */

/** The LLM skill through the gateway, which can hold its task (unacked) after the model answered. */
class HoldingLlmSkill implements Skill {
  readonly name = 'llm';
  readonly description = 'the LLM skill, held after its call (test)';
  answered = 0;
  private readonly inner: LlmSkill;
  private release!: () => void;
  private readonly held = new Promise<void>((resolve) => (this.release = resolve));

  constructor(
    stubUrl: string,
    store: StateStore,
    private readonly hold: boolean,
  ) {
    const client = new OpenAiCompatibleClient({ baseUrl: stubUrl, model: 'stub-model' });
    this.inner = new LlmSkill(
      gatewayLlmClient(client, store, { limits: {}, journalTtlSeconds: 600, scope: 'stub-model' }),
    );
  }

  async run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    const output = await this.inner.run(input, context);
    this.answered++;
    if (this.hold) await this.held; // dies here: between the call and the ack
    return output;
  }

  /** Wakes the dead worker's handler at the end of the test (it finds its connection gone). */
  wake(): void {
    this.release();
  }

  combine(outputs: readonly { inputId: string; output: SkillOutput }[]): SkillOutput {
    return this.inner.combine(outputs);
  }
}

describe('the LLM journal in the mesh (real Redis)', () => {
  const redis = new RedisFixture();
  let mesh: InProcessMesh;
  let stub: OpenAiStub;
  let stubUrl: string;

  beforeEach(async () => {
    mesh = new InProcessMesh();
    // Each request answered `answer <n> to <prompt>`: a journaled answer is told from a new one.
    stub = await startOpenAiStub({
      handler: (request) => ({
        type: 'text',
        text: `answer ${request.index + 1} to ${request.messages.find((m) => m.role === 'user')?.content ?? ''}`,
      }),
    });
    stubUrl = stub.baseUrl;
  });

  afterEach(async () => {
    await mesh.stopAll();
    await stub.close();
  });

  afterAll(async () => {
    await redis.cleanup();
  });

  it('a worker killed between its model call and its ack: the task is redelivered, the endpoint asked once', async () => {
    const connect = () => redis.connect();
    const doomedStore = await connect();
    const doomedSkill = new HoldingLlmSkill(stubUrl, doomedStore, true);
    const [orchestrator, , doomed] = await startAgents(
      mesh,
      [
        'orchestrator',
        'aggregator',
        {
          role: 'worker',
          instanceId: 'doomed',
          stateStore: doomedStore,
          skills: createDefaultSkillRegistry().register(doomedSkill),
        },
      ],
      async () => {
        const store = await connect();
        return {
          stateStore: store,
          skills: createDefaultSkillRegistry().register(new HoldingLlmSkill(stubUrl, store, false)),
        };
      },
    );
    const client = new WorkflowClient(orchestrator.url);
    const workflowId = await client.submit({
      skill: 'llm',
      inputs: [{ id: 'doc-1', text: 'the text to summarize' }],
      params: { instruction: 'Summarize' },
    });
    await eventually('the doomed worker to hold its answer', async () =>
      doomedSkill.answered === 1 ? true : undefined,
    );
    expect(stub.requests).toHaveLength(1);

    const survivorStore = await connect();
    const survivorSkill = new HoldingLlmSkill(stubUrl, survivorStore, false);
    await startAgent(mesh, {
      role: 'worker',
      instanceId: 'survivor',
      stateStore: survivorStore,
      skills: createDefaultSkillRegistry().register(survivorSkill),
    });
    await doomed.crash();

    const workflow = await client.finished<{
      status: string;
      result?: { text: string };
      branches: { worker?: string }[];
    }>(workflowId);
    expect(workflow.status).toBe('completed');
    expect(workflow.branches.map((b) => b.worker)).toEqual(['worker@survivor']);
    expect(survivorSkill.answered).toBe(1); // it ran the task again…
    expect(stub.requests).toHaveLength(1); // …and the journal answered it
    expect(workflow.result?.text).toBe('answer 1 to the text to summarize');
    doomedSkill.wake();
  });

  it('the runtime wraps the LLM skill it registers in the journal and the shared limits', async () => {
    const store = await redis.connect();
    const env = { LLM_BASE_URL: stubUrl, LLM_MODEL: 'stub-model', LLM_MAX_RPM: '100', LLM_MAX_CONCURRENCY: '2' };
    const [orchestrator] = await startAgents(mesh, ['orchestrator', 'aggregator', 'worker'], () => ({
      stateStore: store,
      env,
    }));
    const client = new WorkflowClient(orchestrator.url);
    const workflowId = await client.submit({
      skill: 'llm',
      inputs: [{ id: 'doc-2', text: 'runtime wiring' }],
      params: { instruction: 'Summarize' },
    });
    expect((await client.finished<{ status: string }>(workflowId)).status).toBe('completed');
    const raw = new Redis(redis.url);
    try {
      expect(await raw.keys(`${redis.keyPrefix}llm:journal:${workflowId}:*`)).toHaveLength(1);
      expect(await raw.zcard(`${redis.keyPrefix}llm:limits:stub-model:rpm`)).toBe(1);
      expect(await raw.zcard(`${redis.keyPrefix}llm:limits:stub-model:slots`)).toBe(0);
    } finally {
      raw.disconnect();
    }
  });
});
