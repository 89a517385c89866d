import type { StepState, TimelineEntry, WorkflowView } from '@agent-mesh/agents/orchestrator';
import { STATE_STORE } from '@agent-mesh/runtime';
import type { StateStore } from '@agent-mesh/state';
import { type AgentProcess, InProcessMesh, startAgents, WORKFLOW_ROLES, WorkflowClient } from '@agent-mesh/testing';
import { expectedBoardEntries, QUESTION, runDirectly, summarizeThenIndex, type Board } from './support/expectations';
import { sleep } from './support/test-skills';

/*
 * Blackboard steps end to end: an orchestrator (the board's controller), an aggregator and two
 * workers on one memory broker, driven over HTTP. The board is `ideas`, one of the boards every
 * process is configured with (MESH_BOARDS), so entries travel on topic `blackboard.ideas`.
 */

const ENV = { MESH_BOARDS: 'default,ideas' };

describe('blackboard steps (memory bus)', () => {
  const mesh = new InProcessMesh();
  let orchestrator: AgentProcess;
  let client: WorkflowClient;

  beforeAll(async () => {
    [orchestrator] = await startAgents(mesh, WORKFLOW_ROLES, () => ({ env: ENV }));
    client = new WorkflowClient(orchestrator.url);
  });

  afterAll(() => mesh.stopAll());

  const submit = (step: unknown): Promise<string> => client.submit({ step });

  async function board(id: string, stepPath = 'root'): Promise<Board> {
    const { status, json } = await client.request<Board>('GET', `/workflows/${id}/boards/${stepPath}`);
    if (status !== 200) throw new Error(`GET board answered ${status}: ${JSON.stringify(json)}`);
    return json;
  }

  function step(workflow: WorkflowView, path: string): StepState {
    const found = workflow.steps.find((s) => s.path === path);
    if (!found) throw new Error(`no step ${path} in ${workflow.steps.map((s) => s.path).join(', ')}`);
    return found;
  }

  const timeline = (workflow: WorkflowView, type: string): TimelineEntry[] =>
    workflow.timeline.filter((e) => e.type === type);

  it('sources react to what is posted until `until` holds; the step’s output is the board in order', async () => {
    const id = await submit(summarizeThenIndex);
    const workflow = await client.finished(id);
    expect(workflow.status).toBe('completed');

    const summary = String((await runDirectly('summarize', 'seed-0', QUESTION))['summary']);
    const keywords = JSON.stringify(await runDirectly('keywords', 'summarizer:seed-0', summary));
    expect(summary.length).toBeGreaterThan(0);
    expect(summary).not.toBe(QUESTION); // the summary is a real step: two sentences of four
    const expected = expectedBoardEntries(summary, keywords);
    expect(workflow.result).toEqual({ entries: expected, matched: [expected[2]] });
    expect(step(workflow, 'root')).toMatchObject({ kind: 'blackboard', status: 'completed' });

    // The materialized board holds the same, and the timeline shows each entry and each reaction.
    expect(await board(id)).toEqual({
      workflowId: id,
      stepPath: 'root',
      board: 'ideas',
      entries: expected,
      counts: { question: 1, summary: 1, keywords: 1 },
    });
    const posted = await client.timeline(id, 'board.entry-posted', 3);
    expect(posted.map((e) => e.detail)).toEqual([
      'question seed-0 by seed (#1)',
      'summary summarizer:seed-0 by summarizer (#2)',
      'keywords indexer:summarizer:seed-0 by indexer (#3)',
    ]);
    expect(timeline(workflow, 'task.assigned').map((e) => e.detail)).toEqual([
      'source summarizer (summarize) on seed-0',
      'source indexer (keywords) on summarizer:seed-0',
    ]);
  });

  it('runs inside a chain: the board step’s output feeds the next stage', async () => {
    const id = await submit({
      kind: 'chain',
      stages: [
        {
          step: {
            ...summarizeThenIndex,
            sources: summarizeThenIndex.sources.slice(0, 1),
            until: { kind: 'summary', count: 1 },
          },
        },
        { step: { kind: 'task', skill: 'keywords', inputFrom: { source: 'previous', field: 'matched.0.text' } } },
      ],
    });
    const workflow = await client.finished(id);
    expect(workflow.status).toBe('completed');
    const summary = String((await runDirectly('summarize', 'seed-0', QUESTION))['summary']);
    expect(workflow.result).toEqual(await runDirectly('keywords', 'x', summary));
    expect((await board(id, 'root.stages.0')).entries.map((e) => e.entryId)).toEqual(['seed-0', 'summarizer:seed-0']);
    expect((await client.request('GET', `/workflows/${id}/boards/root.stages.1`)).status).toBe(404);
  });

  it('fails a board that grows past maxEntries without meeting `until`, and reacts no further', async () => {
    // forth: x → y, back: y → x, forever; nothing ever posts the `answer` that would end it.
    const id = await submit({
      kind: 'blackboard',
      board: 'ideas',
      seed: [{ kind: 'x', text: 'Ping pong never ends.' }],
      sources: [
        { name: 'forth', skill: 'summarize', on: 'x', produces: 'y', field: 'summary' },
        { name: 'back', skill: 'summarize', on: 'y', produces: 'x', field: 'summary' },
        { name: 'never', skill: 'summarize', on: 'answer', produces: 'answer', field: 'summary' },
      ],
      until: { kind: 'answer', count: 1 },
      maxEntries: 4,
    });
    const workflow = await client.finished(id);
    expect(workflow.status).toBe('failed');
    expect(step(workflow, 'root').error).toBe(
      'board ideas has 5 entries, more than maxEntries 4, with 0 of 1 "answer" entry',
    );
    expect(workflow.reason).toContain('more than maxEntries 4');
    await sleep(300); // no task of the failed board posts anything more
    const { entries, counts } = await board(id);
    expect(entries.map((e) => e.entryId)).toEqual([
      'seed-0',
      'forth:seed-0',
      'back:forth:seed-0',
      'forth:back:forth:seed-0',
      'back:forth:back:forth:seed-0',
    ]);
    expect(counts).toEqual({ x: 3, y: 2 });
    expect(timeline(await client.get(id), 'task.assigned')).toHaveLength(4);
  });

  it('fails a board that goes quiet before `until` holds', async () => {
    const id = await submit({ ...summarizeThenIndex, until: { kind: 'keywords', count: 2 } });
    const workflow = await client.finished(id);
    expect(workflow.status).toBe('failed');
    expect(step(workflow, 'root').error).toBe(
      'board ideas went quiet with 1 of 2 "keywords" entries: no knowledge source has work left',
    );
    expect((await board(id)).entries.map((e) => e.kind)).toEqual(['question', 'summary', 'keywords']);
  });

  it('fails the step with the skill’s reason when a source’s skill refuses its input, and posts nothing for it', async () => {
    const id = await submit({
      ...summarizeThenIndex,
      sources: [{ ...summarizeThenIndex.sources[0], params: { sentences: 0 } }, summarizeThenIndex.sources[1]],
    });
    const workflow = await client.finished(id);
    expect(workflow.status).toBe('failed');
    const error = String(step(workflow, 'root').error);
    expect(error).toMatch(/^source summarizer \(summarize\) failed on entry seed-0: /);
    expect(error).toContain('param "sentences" must be an integer from 1 to 20, got 0');
    expect(workflow.reason).toContain('param "sentences"');
    const failed = await client.timeline(id, 'task.failed', 1);
    expect(failed[0].stepPath).toBe('root');
    await sleep(100);
    expect((await board(id)).entries.map((e) => e.entryId)).toEqual(['seed-0']);
  });

  it('rebuilds a lost board from its topic: only this workflow’s entries of this step, in order', async () => {
    // Two workflows on the same board at once: their entries interleave on the topic.
    const [id, other] = await Promise.all([submit(summarizeThenIndex), submit(summarizeThenIndex)]);
    expect((await client.finished(id)).status).toBe('completed');
    expect((await client.finished(other)).status).toBe('completed');
    const original = await board(id);
    expect(original.entries).toHaveLength(3);

    const state = orchestrator.app.get<StateStore>(STATE_STORE);
    const keys = await state.keys(`orchestrator:board:${id}:*`);
    expect(keys.length).toBeGreaterThanOrEqual(3);
    await state.apply(keys.map((key) => ({ op: 'del' as const, key })));
    expect(await board(id)).toEqual({ ...original, entries: [], counts: {} });

    const { status, json: rebuilt } = await client.request<Board>('POST', `/workflows/${id}/boards/root/rebuild`);
    expect(status).toBe(200);
    expect(rebuilt).toEqual(original);
    expect(await board(id)).toEqual(original);
    expect(await board(other)).toEqual({ ...original, workflowId: other }); // untouched, and the same texts

    expect((await client.request('POST', `/workflows/${id}/boards/root.stages.0/rebuild`)).status).toBe(404);
  });
});
