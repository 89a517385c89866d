import { Module, type INestApplication } from '@nestjs/common';
import { MemoryBroker, type EventBus } from '@agent-mesh/bus';
import {
  createMeshEventRegistry,
  envelopeProperties,
  qualifyTopic,
  TaskAssignedV1,
  Topics,
  type EventEnvelope,
  type EventRegistry,
  type TaskAssigned,
  type TaskCompleted,
  type TaskToken,
  type TopicNaming,
} from '@agent-mesh/contracts';
import { bootstrapAgent, MeshRuntimeModule } from '@agent-mesh/runtime';
import {
  createDefaultSkillRegistry,
  type Skill,
  type SkillContext,
  type SkillInput,
  type SkillOutput,
} from '@agent-mesh/skills';
import { WorkerModule } from './worker.module';

const naming: TopicNaming = { tenant: 'agentmesh', namespace: 'mesh' };
const origin = { source: 'orchestrator@test', region: 'test' };

/** Streams its input word by word (`pause` ms between bursts of `burst` words) and records two model calls. */
class StreamingSkill implements Skill {
  readonly name = 'streams';
  readonly description = 'emits its words and records usage (test)';

  async run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    const words = input.text.split(' ');
    const burst = Number(input.params?.['burst'] ?? words.length);
    for (let i = 0; i < words.length; i++) {
      context.emit?.(`${i === 0 ? '' : ' '}${words[i]}`);
      if ((i + 1) % burst === 0) await new Promise((resolve) => setTimeout(resolve, 120));
    }
    context.recordUsage?.({ model: 'm', promptTokens: 10, completionTokens: 4, costUsd: 0.002 });
    context.recordUsage?.({ model: 'm', promptTokens: 5, completionTokens: 1 });
    return { text: input.text };
  }

  combine(): SkillOutput {
    return {};
  }
}

async function eventually<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 8000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('a worker streams what a skill emits and puts its usage on the result (memory bus)', () => {
  let broker: MemoryBroker;
  let client: EventBus;
  let app: INestApplication;
  const registry: EventRegistry = createMeshEventRegistry();

  beforeEach(async () => {
    broker = new MemoryBroker();
    client = broker.connect();
    @Module({
      imports: [
        MeshRuntimeModule.forRoot({
          role: 'worker',
          broker,
          skills: createDefaultSkillRegistry().register(new StreamingSkill()),
          env: { MESH_TRANSPORT: 'memory', MESH_INSTANCE_ID: 'w-1', MESH_REGION: 'test', REDIS_URL: '' },
        }),
        WorkerModule,
      ],
    })
    class AppModule {}
    app = await bootstrapAgent(AppModule, { port: 0, logLevels: ['error'] });
  });

  afterEach(async () => {
    await app.close();
    await client.close();
    broker.shutdown();
  });

  async function assign(workflowId: string, text: string, params: Record<string, unknown> = {}): Promise<void> {
    const data: TaskAssigned = {
      taskId: `${workflowId}:root:task:a`,
      stepPath: 'root',
      branchIndex: 0,
      branchCount: 1,
      skill: 'streams',
      input: { id: 'a', text },
      params,
    };
    const envelope = registry.create(TaskAssignedV1, data, origin, { correlationId: workflowId });
    await client.publish(qualifyTopic(naming, Topics.tasks('streams')), {
      payload: registry.encode(envelope),
      key: workflowId,
      properties: envelopeProperties(envelope),
    });
  }

  async function read<T>(topic: string, type: string): Promise<T[]> {
    const reader = await client.createReader({ topic: qualifyTopic(naming, topic), startMessageId: 'earliest' });
    const out: T[] = [];
    while (await reader.hasMessageAvailable()) {
      const message = await reader.readNext(100);
      if (!message) continue;
      const envelope = JSON.parse(message.payload.toString()) as EventEnvelope<T>;
      if (envelope.type === type) out.push(envelope.data);
    }
    await reader.close();
    return out;
  }

  const completed = (workflowId: string) =>
    eventually('task.completed', async () => {
      const results = await read<TaskCompleted>(Topics.taskResults, 'task.completed');
      return results.find((r) => r.taskId.startsWith(workflowId));
    });

  it('sums the recorded calls onto task.completed', async () => {
    await assign('wf-usage', 'one two three');
    const result = await completed('wf-usage');
    expect(result.usage).toEqual({ calls: 2, promptTokens: 15, completionTokens: 5, costUsd: 0.002 });
  });

  it('sends the emitted text to workflow.stream.<id> in order, with seq 0, 1, 2, …', async () => {
    await assign('wf-stream', 'alpha beta gamma delta epsilon zeta', { burst: 2 });
    await completed('wf-stream');
    const tokens = await read<TaskToken>(Topics.workflowStream('wf-stream'), 'task.token');
    expect(tokens.map((t) => t.seq)).toEqual(tokens.map((_, i) => i));
    expect(tokens.map((t) => t.text).join('')).toBe('alpha beta gamma delta epsilon zeta');
    expect(tokens.every((t) => t.taskId === 'wf-stream:root:task:a' && t.stepPath === 'root')).toBe(true);
    // Batched: never one message per word.
    expect(tokens.length).toBeLessThan(6);
  });

  it('batches pieces emitted together into one message', async () => {
    const words = Array.from({ length: 300 }, (_, i) => `w${i}`);
    await assign('wf-batch', words.join(' '));
    await completed('wf-batch');
    const tokens = await read<TaskToken>(Topics.workflowStream('wf-batch'), 'task.token');
    expect(tokens).toHaveLength(1);
    expect(tokens[0]?.text).toBe(words.join(' '));
  });
});
