// contracts does not load the Reflect metadata polyfill itself (class-transformer's @Type needs it).
import 'reflect-metadata';
import type { EventOrigin } from '../registry';
import { ContractValidationError } from '../validation';
import { createMeshEventRegistry } from './index';
import { TaskAssignedV1, type TaskAssigned } from './task';

const origin: EventOrigin = { source: 'tester@t-1', region: 'test' };

function task(extra: Partial<TaskAssigned> = {}): TaskAssigned {
  return {
    taskId: 'wf-1:root:saga:0:action',
    branchIndex: 0,
    branchCount: 1,
    skill: 'keywords',
    input: { id: 'a', text: 'some text' },
    ...extra,
  };
}

describe('TaskAssigned.replyTopic', () => {
  const registry = createMeshEventRegistry();

  it('is optional: a task without it is valid (results then go to task.results)', () => {
    const decoded = registry.decode(
      JSON.stringify(registry.create(TaskAssignedV1, task(), origin, { correlationId: 'wf-1' })),
    );
    expect(decoded.ok && (decoded.envelope.data as TaskAssigned).replyTopic).toBeUndefined();
  });

  it('accepts task.results and task.results.<name>, and survives a decode', () => {
    for (const replyTopic of ['task.results', 'task.results.saga', 'task.results.solver-rounds', 'task.results.a1']) {
      const envelope = registry.create(TaskAssignedV1, task({ replyTopic }), origin, { correlationId: 'wf-1' });
      const decoded = registry.decode(JSON.stringify(envelope));
      expect(decoded.ok && (decoded.envelope.data as TaskAssigned).replyTopic).toBe(replyTopic);
    }
  });

  it('refuses any topic outside the task-results family, on publish and on receipt', () => {
    const outside = [
      'workflow.events',
      'tasks.keywords',
      'mesh.dlq',
      'task.results.',
      'task.resultsx',
      'task.results.Saga',
      'task.results.a.b',
      'task.results.saga-DLQ ',
      'persistent://agentmesh/mesh/task.results',
      'persistent://other/ns/workflow.events',
      '',
    ];
    for (const replyTopic of outside) {
      expect(() => registry.create(TaskAssignedV1, task({ replyTopic }), origin, { correlationId: 'wf-1' })).toThrow(
        ContractValidationError,
      );
      const valid = registry.create(TaskAssignedV1, task(), origin, { correlationId: 'wf-1' });
      const tampered = { ...valid, data: { ...valid.data, replyTopic } };
      const decoded = registry.decode(JSON.stringify(tampered));
      expect(decoded.ok).toBe(false);
      if (!decoded.ok) {
        expect(decoded.code).toBe('invalid-data');
        expect(decoded.fieldErrors?.map((e) => e.field)).toEqual(['data.replyTopic']);
      }
    }
  });
});
