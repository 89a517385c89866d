import { Topics } from '@agent-mesh/contracts';
import { WorkflowCancelledError } from '@agent-mesh/skills';
import { cancellableWorkflow, RunningTasks } from './running-tasks';

const ended = (workflowId: string) => new WorkflowCancelledError(workflowId, 'workflow.cancelled', 'no longer needed');

describe('RunningTasks', () => {
  it('cancels the running tasks of the workflow that ended, with its reason, and no others', () => {
    const tasks = new RunningTasks();
    const reasons: string[] = [];
    tasks.track('wf-1', (reason) => reasons.push(`a: ${reason.message}`));
    tasks.track('wf-1', (reason) => reasons.push(`b: ${reason.message}`));
    tasks.track('wf-2', () => reasons.push('other workflow'));

    expect(tasks.end(ended('wf-1'))).toBe(2);
    expect(reasons).toEqual([
      'a: workflow wf-1 ended (workflow.cancelled): no longer needed',
      'b: workflow wf-1 ended (workflow.cancelled): no longer needed',
    ]);
    expect(tasks.runningCount).toBe(1);
    expect(tasks.end(ended('wf-1'))).toBe(0); // each task is cancelled once
  });

  it('forgets a task once it settles: a later end cancels nothing', () => {
    const tasks = new RunningTasks();
    const cancel = jest.fn();
    const untrack = tasks.track('wf-1', cancel);
    untrack();
    untrack(); // settling twice is harmless
    expect(tasks.runningCount).toBe(0);
    expect(tasks.end(ended('wf-1'))).toBe(0);
    expect(cancel).not.toHaveBeenCalled();
  });

  it('untracking inside the cancel (as the runner does) leaves nothing behind', () => {
    const tasks = new RunningTasks();
    const untracks: (() => void)[] = [];
    for (let i = 0; i < 3; i++) untracks.push(tasks.track('wf-1', () => untracks[i]()));
    expect(tasks.end(ended('wf-1'))).toBe(3);
    expect(tasks.runningCount).toBe(0);
  });

  it('remembers ended workflows until their time is up', () => {
    let now = 1_000;
    const tasks = new RunningTasks(10, 5_000, () => now);
    tasks.end(ended('wf-1'));
    expect(tasks.hasEnded('wf-1')).toBe(true);
    expect(tasks.hasEnded('wf-2')).toBe(false);
    now += 4_999;
    expect(tasks.hasEnded('wf-1')).toBe(true);
    now += 1;
    expect(tasks.hasEnded('wf-1')).toBe(false);
  });

  it('remembers at most so many ended workflows, forgetting the oldest first', () => {
    let now = 0;
    const tasks = new RunningTasks(3, 60_000, () => now);
    for (const id of ['wf-1', 'wf-2', 'wf-3', 'wf-4']) {
      now += 10;
      tasks.end(ended(id));
    }
    expect(['wf-1', 'wf-2', 'wf-3', 'wf-4'].map((id) => tasks.hasEnded(id))).toEqual([false, true, true, true]);
    // An end seen again counts as new: wf-2 is now the youngest, wf-3 goes next.
    tasks.end(ended('wf-2'));
    tasks.end(ended('wf-5'));
    expect(['wf-2', 'wf-3', 'wf-4', 'wf-5'].map((id) => tasks.hasEnded(id))).toEqual([true, false, true, true]);
  });

  it('never cancels a saga’s tasks: actions and compensations reply on task.results.saga', () => {
    expect(cancellableWorkflow('wf-1', Topics.sagaTaskResults)).toBeUndefined();
    expect(cancellableWorkflow('wf-1', Topics.taskResults)).toBe('wf-1');
    expect(cancellableWorkflow('wf-1', Topics.taskResultsFor('solver-rounds'))).toBe('wf-1');
    expect(cancellableWorkflow('wf-1', undefined)).toBe('wf-1');
  });
});
