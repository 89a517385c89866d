import type { EventEnvelope } from '@agent-mesh/contracts';
import { qualifyTopic, Topics } from '@agent-mesh/contracts';
import {
  createDefaultSkillRegistry,
  WorkflowCancelledError,
  type Skill,
  type SkillContext,
  type SkillInput,
  type SkillOutput,
} from '@agent-mesh/skills';
import { eventually, InProcessMesh, startAgents, WorkflowClient } from '@agent-mesh/testing';
import { terminalEvents } from './support/pattern-scenarios';

/** Runs until its task is aborted (it never finishes on its own); records what started and why each run stopped. */
class UntilAbortedSkill implements Skill {
  readonly name = 'until-aborted';
  readonly description = 'runs until its task is aborted (test)';
  readonly started: string[] = [];
  readonly reasons = new Map<string, unknown>();

  run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    this.started.push(input.id);
    return new Promise((_, reject) =>
      context.signal.addEventListener(
        'abort',
        () => {
          this.reasons.set(input.id, context.signal.reason);
          reject(context.signal.reason);
        },
        { once: true },
      ),
    );
  }

  combine(): SkillOutput {
    return {};
  }
}

describe('POST /workflows/:id/cancel reaches the work (memory bus, two workers)', () => {
  const mesh = new InProcessMesh();
  const skills = [new UntilAbortedSkill(), new UntilAbortedSkill()];
  let client: WorkflowClient;

  beforeAll(async () => {
    const [orchestrator] = await startAgents(
      mesh,
      [
        'orchestrator',
        'aggregator',
        { role: 'worker', instanceId: 'w-1', skills: createDefaultSkillRegistry().register(skills[0]) },
        { role: 'worker', instanceId: 'w-2', skills: createDefaultSkillRegistry().register(skills[1]) },
      ],
      () => ({ skills: createDefaultSkillRegistry().register(new UntilAbortedSkill()) }),
    );
    client = new WorkflowClient(orchestrator.url);
  });

  afterAll(() => mesh.stopAll());

  const started = () => skills.flatMap((s) => s.started);
  const tasksTopic = () => mesh.broker.backlog(qualifyTopic(mesh.naming, Topics.tasks('until-aborted')), 'workers');

  it('aborts the running skills on every worker, skips the queued tasks, and ends the workflow once, cancelled', async () => {
    // Ten branches; each worker runs four at a time (its subscription's concurrency), so two wait in the queue.
    const inputs = Array.from({ length: 10 }, (_, i) => ({ id: `doc-${i}`, text: `text ${i}` }));
    const id = await client.submit({ skill: 'until-aborted', inputs });
    await eventually('eight branches running, four on each worker', async () =>
      skills.every((s) => s.started.length === 4) ? true : undefined,
    );
    expect(tasksTopic()).toBe(10);

    expect((await client.cancel(id, 'no longer needed')).status).toBe(202);
    const workflow = await client.finished(id);
    expect(workflow.status).toBe('cancelled');
    expect(terminalEvents(workflow)).toEqual(['workflow.cancelled']);

    // Every running skill's signal aborted, with the cancel as its reason.
    await eventually('the eight running skills to be aborted', async () =>
      skills.every((s) => s.reasons.size === 4) ? true : undefined,
    );
    for (const reason of skills.flatMap((s) => [...s.reasons.values()])) {
      expect(reason).toBeInstanceOf(WorkflowCancelledError);
      expect(reason).toMatchObject({ workflowId: id, endedBy: 'workflow.cancelled' });
    }
    // Every task acked: the two queued ones were delivered after the cancel and skipped, never run.
    await eventually('every task to be acked', async () => (tasksTopic() === 0 ? true : undefined));
    expect(started()).toHaveLength(8);
    expect(new Set(started()).size).toBe(8);
    // No task of the workflow published a result (aborted and skipped tasks publish nothing).
    const results = (await mesh.readAll(Topics.taskResults))
      .map((m) => JSON.parse(m.payload.toString()) as EventEnvelope)
      .filter((e) => e.correlationId === id && e.type.startsWith('task.'));
    expect(results).toEqual([]);
    // Still exactly one terminal event on workflow.events.
    const ends = (await mesh.readAll(Topics.workflowEvents))
      .map((m) => JSON.parse(m.payload.toString()) as EventEnvelope)
      .filter((e) => e.correlationId === id && e.type === 'workflow.cancelled');
    expect(ends).toHaveLength(1);
  });
});
