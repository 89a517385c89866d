import { createDefaultSkillRegistry } from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';
import { eventually, InProcessMesh, RedisFixture, startAgent, startAgents, WorkflowClient } from '@agent-mesh/testing';
import { LedgerSkill } from './support/test-skills';
import { terminalEvents } from './support/pattern-scenarios';

const step = (name: string, id: string, op: string, deadlineMs = 10_000) => ({
  name,
  action: { skill: 'ledger', input: { id, text: `${op} ${id}` }, params: { op } },
  compensation: { skill: 'ledger', input: { id, text: `release ${id}` }, params: { op: 'release' } },
  deadlineMs,
});

interface SagaView {
  status: string;
  reason?: string;
  result?: { outputs: Record<string, unknown> };
  timeline: { type: string; detail?: string }[];
}

describe('sagas (memory bus, state in the real Redis)', () => {
  const redis = new RedisFixture();
  let mesh: InProcessMesh;
  let effectsStore: StateStore;
  let ledger: LedgerSkill;
  let client: WorkflowClient;
  const effectsKey = 'ledger:effects';

  const registry = () => createDefaultSkillRegistry().register(ledger);
  const startCoordinator = async (instanceId: string) =>
    startAgent(mesh, { role: 'saga-coordinator', instanceId, stateStore: await redis.connect(), skills: registry() });

  const submit = (steps: object[]): Promise<string> => client.submit({ name: 'order', step: { kind: 'saga', steps } });
  const finished = (id: string) => client.finished<SagaView>(id);
  const effects = () => effectsStore.lrange(effectsKey, 0, -1);

  beforeEach(async () => {
    mesh = new InProcessMesh();
    effectsStore = await redis.connect();
    await effectsStore.apply([{ op: 'del', key: effectsKey }]);
    // a ledger whose 'hang' never finishes, not even when its task is aborted
    ledger = new LedgerSkill({
      store: () => effectsStore,
      effectsKey,
      hang: 'forever',
      description: 'reserve / release entries in a ledger (test only)',
    });
    const [orchestrator] = await startAgents(mesh, ['orchestrator', 'aggregator', 'worker'], async (role) => ({
      stateStore: role === 'worker' ? undefined : await redis.connect(),
      skills: registry(),
    }));
    client = new WorkflowClient(orchestrator.url);
  });

  afterEach(() => mesh.stopAll());
  afterAll(() => redis.cleanup());

  it('runs every step in order and completes with their outputs', async () => {
    await startCoordinator('saga-1');
    const id = await submit([step('reserve-stock', 'a', 'reserve'), step('charge-card', 'b', 'charge')]);
    const saga = await finished(id);
    expect(saga.status).toBe('completed');
    expect(saga.result?.outputs).toEqual({
      'reserve-stock': { done: 'reserve:a' },
      'charge-card': { done: 'charge:b' },
    });
    expect(await effects()).toEqual(['reserve:a', 'charge:b']);
  });

  it('compensates steps 2 then 1, each once, when step 3 of 4 fails — even with the coordinator killed between the compensations', async () => {
    const doomed = await startCoordinator('saga-doomed');
    const releaseB = ledger.hold('release:b'); // the first compensation waits until the coordinator is dead
    const id = await submit([
      step('one', 'a', 'reserve'),
      step('two', 'b', 'reserve'),
      step('three', 'c', 'fail'),
      step('four', 'd', 'reserve'),
    ]);

    await eventually('the compensation of step two to start', async () =>
      ledger.calls.includes('release:b') ? true : undefined,
    );
    await doomed.crash();
    releaseB(); // step two's compensation finishes while no coordinator runs
    await startCoordinator('saga-successor');

    const saga = await finished(id);
    expect(saga.status).toBe('compensated');
    expect(saga.reason).toContain('step three failed');
    expect(saga.reason).toContain('compensated two then one');
    // Effects: two reservations, then their releases in reverse order, each exactly once.
    expect(await effects()).toEqual(['reserve:a', 'reserve:b', 'release:b', 'release:a']);
    expect(ledger.calls).not.toContain('reserve:d');
    expect(ledger.calls.filter((c) => c === 'release:a')).toHaveLength(1);
  });

  it('compensates when a step misses its deadline (a delayed message on timers)', async () => {
    await startCoordinator('saga-1');
    const id = await submit([step('one', 'a', 'reserve'), step('slow', 'b', 'hang', 300)]);
    const saga = await finished(id);
    expect(saga.status).toBe('compensated');
    expect(saga.reason).toContain('slow missed its deadline of 300 ms');
    expect(await effects()).toEqual(['reserve:a', 'release:a']);
    expect(saga.timeline.map((e) => e.type)).toContain('saga.compensated');
  });

  it('compensates a running saga that is cancelled over HTTP', async () => {
    await startCoordinator('saga-1');
    const id = await submit([step('one', 'a', 'reserve'), step('waits', 'b', 'hang')]);
    await eventually('step one done', async () => ((await effects()).includes('reserve:a') ? true : undefined));
    const cancel = await client.cancel(id, 'customer changed their mind');
    expect(cancel.status).toBe(202);
    const saga = await finished(id);
    expect(saga.status).toBe('compensated');
    expect(saga.reason).toContain('customer changed their mind');
    expect(await effects()).toEqual(['reserve:a', 'release:a']);
    expect(terminalEvents(saga)).toEqual(['workflow.compensated']);
  });

  it('refuses a saga step without a compensation at submission', async () => {
    await startCoordinator('saga-1');
    const response = await client.post<{ errors: { field: string; messages: string[] }[] }>({
      step: {
        kind: 'saga',
        steps: [{ name: 'one', action: { skill: 'ledger', input: { id: 'a', text: 'x' } }, deadlineMs: 1000 }],
      },
    });
    expect(response.status).toBe(400);
    expect(response.json.errors.map((e) => e.field)).toContain('step.steps.0.compensation');
  });
});
