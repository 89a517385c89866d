import { Controller, Module } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { WorkflowView } from '@agent-mesh/agents/orchestrator';
import { DeadLetterProperties } from '@agent-mesh/bus';
import { TaskAssignedV1, Topics, type EventEnvelope, type TaskAssigned } from '@agent-mesh/contracts';
import { OnMeshEvent } from '@agent-mesh/nest-pulsar';
import { createDefaultSkillRegistry } from '@agent-mesh/skills';
import { eventually, InProcessMesh, startAgents, WorkflowClient } from '@agent-mesh/testing';
import { terminalEvents } from './support/pattern-scenarios';
import { CountSkill, HangSkill, sleep, UnservedSkill } from './support/test-skills';

/** A worker that cannot handle the tasks it takes (say, of another version): each is dead-lettered. */
@Controller()
class DeadLetteringWorker {
  @OnMeshEvent(TaskAssignedV1, {
    topic: Topics.tasks('unserved'),
    subscription: 'workers',
    type: 'Shared',
    maxRedeliverCount: 1,
    nackRedeliveryDelayMs: 10,
  })
  take(@Payload() event: EventEnvelope<TaskAssigned>): void {
    throw new Error(`task ${event.data.taskId}: this worker cannot run it`);
  }
}

@Module({ controllers: [DeadLetteringWorker] })
class DeadLetteringWorkerModule {}

/*
 * Deadlines with the saga coordinator in the mesh (memory bus): a workflow past its deadline
 * while its saga runs ends timed-out at once, and the saga is aborted, so it compensates what it
 * did; its end comes after the workflow's and changes nothing (late on the timeline). And work
 * lost to the dead-letter topic ends its workflow timed-out. The other deadline scenarios are in
 * the pattern table (support/pattern-scenarios.ts, run on the memory bus and on Pulsar).
 */

describe('deadlines end to end (memory bus)', () => {
  const mesh = new InProcessMesh();
  const count = new CountSkill();
  const hang = new HangSkill();
  let client: WorkflowClient;

  beforeAll(async () => {
    // `unserved` is known where workflows are submitted; only the dead-lettering worker takes its tasks.
    const skills = (role: string) => {
      const registry = createDefaultSkillRegistry().register(count).register(hang);
      return role === 'worker' ? registry : registry.register(new UnservedSkill());
    };
    const roles = ['orchestrator', 'aggregator', 'worker', 'saga-coordinator'] as const;
    // The workflows' default deadline, for the specs that declare none.
    const env = { WORKFLOW_DEADLINE_MS: '1200' };
    // The saga's action held on `hang` never reports (saga tasks are not aborted): it is undone
    // after SAGA_RESULT_WAIT_MS as an action of unknown outcome.
    const processEnv = (role: string) => (role === 'saga-coordinator' ? { SAGA_RESULT_WAIT_MS: '300' } : undefined);
    const [orchestrator] = await startAgents(mesh, roles, (role) => ({
      skills: skills(role),
      env,
      processEnv: processEnv(role),
    }));
    await mesh.start({ role: 'worker', modules: [DeadLetteringWorkerModule] });
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

  it('lost work: a task dead-lettered by its worker ends the workflow timed-out by its deadline (WORKFLOW_DEADLINE_MS)', async () => {
    const id = await client.submit({
      step: { kind: 'task', skill: 'unserved', input: { id: 'dead-1', text: 'never answered' } },
    });
    const workflow = await client.finished<WorkflowView>(id);
    expect(workflow.status).toBe('timed-out');
    expect(workflow.reason).toBe('workflow deadline exceeded (1200 ms): root (task) was still running');
    expect(terminalEvents(workflow)).toEqual(['workflow.timed-out']);
    const letters = await eventually('the task in the dead-letter topic', async () => {
      const found = (await mesh.deadLetters()).filter((m) =>
        m.properties[DeadLetterProperties.reason]?.includes(`task ${id}:root:1`),
      );
      return found.length > 0 ? found : undefined;
    });
    expect(letters).toHaveLength(1);
    expect(letters[0].properties[DeadLetterProperties.reason]).toContain('this worker cannot run it');
  });
});
