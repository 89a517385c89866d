import type { WorkflowView } from '@agent-mesh/agents/orchestrator';
import { createDefaultSkillRegistry } from '@agent-mesh/skills';
import { eventually, InProcessMesh, startAgents, WorkflowClient } from '@agent-mesh/testing';
import { terminalEvents } from './support/pattern-scenarios';
import { CountSkill, HangSkill, sleep } from './support/test-skills';

/*
 * Deadlines with the saga coordinator in the mesh (memory bus): a workflow past its deadline
 * while its saga runs ends timed-out at once, and the saga is aborted, so it compensates what it
 * did; its end comes after the workflow's and changes nothing (late on the timeline). The
 * deadline scenarios without a saga are in the pattern table (support/pattern-scenarios.ts).
 */

describe('deadlines of a workflow running a saga (memory bus)', () => {
  const mesh = new InProcessMesh();
  const count = new CountSkill();
  const hang = new HangSkill();
  let client: WorkflowClient;

  beforeAll(async () => {
    const skills = () => createDefaultSkillRegistry().register(count).register(hang);
    const [orchestrator] = await startAgents(
      mesh,
      ['orchestrator', 'aggregator', 'worker', 'saga-coordinator'],
      () => ({
        skills: skills(),
      }),
    );
    client = new WorkflowClient(orchestrator.url, { timeoutMs: 10_000 });
  });

  afterAll(async () => {
    hang.release();
    await sleep(50);
    await mesh.stopAll();
  });

  it('times out, aborts the running saga, which compensates; its late end changes nothing', async () => {
    const item = (name: string, skill: string, text: string) => ({
      name,
      action: { skill, input: { id: `${name}-1`, text } },
      compensation: { skill: 'count', input: { id: `undo-${name}`, text: `undo ${name}` } },
      deadlineMs: 60_000,
    });
    const id = await client.submit({
      deadlineMs: 800,
      step: { kind: 'saga', steps: [item('reserve', 'count', 'two words'), item('wait', 'hang', 'hang on')] },
    });
    const workflow = await client.finished<WorkflowView>(id);
    expect(workflow.status).toBe('timed-out');
    expect(workflow.reason).toBe('workflow deadline exceeded (800 ms): root (saga) was still running');
    expect(terminalEvents(workflow)).toEqual(['workflow.timed-out']);

    // The saga undoes its completed step, after the workflow ended: late, and nothing changes.
    const ended = await eventually(
      "the saga's compensation on the timeline",
      async () => {
        const view = await client.get<WorkflowView>(id);
        return view.timeline.some((e) => e.type === 'saga.compensated') ? view : undefined;
      },
      10_000,
    );
    expect(ended.timeline.find((e) => e.type === 'saga.compensated')).toMatchObject({ late: true });
    expect(ended.timeline.some((e) => e.type === 'saga.step' && e.detail?.startsWith('reserve compensated'))).toBe(
      true,
    );
    expect(count.runs).toContain('undo-reserve');
    expect(ended).toMatchObject({ status: 'timed-out', reason: workflow.reason });
    expect(terminalEvents(ended)).toEqual(['workflow.timed-out']);
  });
});
