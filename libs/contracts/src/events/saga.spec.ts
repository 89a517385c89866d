// contracts does not load the Reflect metadata polyfill itself (class-transformer's @Type needs it).
import 'reflect-metadata';
import { isSagaCompensationTask, sagaTaskId } from './saga';

describe('saga task ids', () => {
  it('tell a compensation (never to skip or abort) from an action and from other tasks', () => {
    expect(isSagaCompensationTask(sagaTaskId('wf-1', 'root.stages.1', 2, 'compensation'))).toBe(true);
    expect(isSagaCompensationTask(sagaTaskId('wf-1', 'root', 0, 'action'))).toBe(false);
    expect(isSagaCompensationTask('wf-1:3')).toBe(false);
    expect(sagaTaskId('wf-1', 'root', 0, 'action')).toBe('wf-1:root:saga:0:action');
  });
});
