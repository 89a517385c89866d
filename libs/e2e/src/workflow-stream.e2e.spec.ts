import { createParser } from 'eventsource-parser';
import type { WorkflowView } from '@agent-mesh/agents/orchestrator';
import { eventually, InProcessMesh, startAgents, type AgentProcess } from '@agent-mesh/testing';
import {
  createDefaultSkillRegistry,
  type Skill,
  type SkillContext,
  type SkillInput,
  type SkillOutput,
} from '@agent-mesh/skills';

/*
 * GET /workflows/:id/stream (Server-Sent Events) on the memory bus: a skill streams its words
 * slowly (as an LLM streams tokens); the client gets the first one while the workflow's step still
 * runs, then every piece in order, then `event: end` when the workflow ends.
 */
const KEY = 'stream-key-0123456789';

/** Emits its first word, waits to be released, emits the rest: the test decides when the step ends. */
class SlowStreamSkill implements Skill {
  readonly name = 'slowstream';
  readonly description = 'streams its words, held half-way (test)';
  constructor(private readonly gate: { release?: () => void }) {}

  async run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    const [first, ...rest] = input.text.split(' ');
    context.emit?.(first ?? '');
    await new Promise<void>((resolve) => (this.gate.release = resolve));
    for (const word of rest) {
      context.emit?.(` ${word}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    context.recordUsage?.({ model: 'stub', promptTokens: 3, completionTokens: rest.length + 1 });
    return { text: input.text };
  }

  combine(outputs: readonly { inputId: string; output: SkillOutput }[]): SkillOutput {
    return { texts: outputs.map((o) => o.output['text']) };
  }
}

/** An SSE client on fetch (eventsource-parser): yields each event (`event` name and `data`) as it arrives. */
async function* sse(response: Response): AsyncGenerator<{ event: string; data: string }> {
  const reader = response.body?.getReader();
  if (!reader) throw new Error('no body');
  const parsed: { event: string; data: string }[] = [];
  const parser = createParser({ onEvent: ({ event, data }) => parsed.push({ event: event ?? 'message', data }) });
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    parser.feed(decoder.decode(value, { stream: true }));
    yield* parsed.splice(0);
  }
}

describe('GET /workflows/:id/stream (memory bus)', () => {
  const mesh = new InProcessMesh();
  const gate: { release?: () => void } = {};
  let orchestrator: AgentProcess;
  const auth = { authorization: `Bearer ${KEY}` };

  beforeAll(async () => {
    [orchestrator] = await startAgents(mesh, ['orchestrator', 'aggregator', 'worker'], () => ({
      skills: createDefaultSkillRegistry().register(new SlowStreamSkill(gate)),
      env: { MESH_API_KEYS: KEY },
    }));
  });

  afterAll(async () => {
    gate.release?.();
    await mesh.stopAll();
  });

  const workflow = async (id: string): Promise<WorkflowView> => {
    const response = await fetch(`${orchestrator.url}/workflows/${id}`, { headers: auth });
    return (await response.json()) as WorkflowView;
  };

  beforeEach(() => {
    gate.release = undefined;
  });

  it("relays a running step's tokens before the step ends, then ends with the workflow", async () => {
    const submitted = await fetch(`${orchestrator.url}/workflows`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ skill: 'slowstream', inputs: [{ id: 'd1', text: 'the quick brown fox jumps' }] }),
    });
    const { workflowId } = (await submitted.json()) as { workflowId: string };
    const response = await fetch(`${orchestrator.url}/workflows/${workflowId}/stream`, { headers: auth });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const events = sse(response);

    const first = await events.next();
    expect(first.done).toBe(false);
    expect(JSON.parse(first.value?.data ?? '{}')).toMatchObject({ seq: 0, text: 'the' });
    // The step is still running: the client got its first token before the step ended.
    const during = await workflow(workflowId);
    expect(during.status).toBe('running');
    expect(during.steps.some((step) => step.status === 'running')).toBe(true);

    await eventually('the skill to wait for its release', async () => gate.release);
    gate.release?.();
    const pieces: { seq: number; text: string }[] = [JSON.parse(first.value?.data ?? '{}')];
    let end: { status?: string } | undefined;
    for await (const event of events) {
      if (event.event === 'end') {
        end = JSON.parse(event.data);
        break;
      }
      pieces.push(JSON.parse(event.data));
    }
    expect(end).toMatchObject({ status: 'completed' });
    expect(pieces.map((p) => p.seq)).toEqual(pieces.map((_, i) => i));
    expect(pieces.map((p) => p.text).join('')).toBe('the quick brown fox jumps');
    const after = await workflow(workflowId);
    expect(after.status).toBe('completed');
  });

  it('answers a finished workflow with its whole stream at once', async () => {
    const submitted = await fetch(`${orchestrator.url}/workflows`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ skill: 'slowstream', inputs: [{ id: 'd2', text: 'a b c' }] }),
    });
    const { workflowId } = (await submitted.json()) as { workflowId: string };
    await eventually('the skill to start', async () => gate.release);
    gate.release?.();
    await eventually('the workflow to end', async () =>
      (await workflow(workflowId)).status === 'completed' ? true : undefined,
    );
    const texts: string[] = [];
    for await (const event of sse(
      await fetch(`${orchestrator.url}/workflows/${workflowId}/stream`, { headers: auth }),
    )) {
      if (event.event === 'end') break;
      texts.push((JSON.parse(event.data) as { text: string }).text);
    }
    expect(texts.join('')).toBe('a b c');
  });

  it('is 404 for an unknown workflow and 401 without credentials', async () => {
    const unknown = await fetch(`${orchestrator.url}/workflows/no-such-workflow/stream`, { headers: auth });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ message: 'no workflow no-such-workflow' });
    expect((await fetch(`${orchestrator.url}/workflows/no-such-workflow/stream`)).status).toBe(401);
  });
});
