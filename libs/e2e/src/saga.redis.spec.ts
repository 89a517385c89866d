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

/** What is still applied, by ledger entry id: each `<op>:<id>` applies, each `release:<id>` undoes one. */
function netEffects(effects: readonly string[]): Record<string, number> {
  const net: Record<string, number> = {};
  for (const effect of effects) {
    const [op, id] = effect.split(':');
    net[id] = (net[id] ?? 0) + (op === 'release' ? -1 : 1);
    if (net[id] === 0) delete net[id];
  }
  return net;
}

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
  const startCoordinator = async (instanceId: string, processEnv: Record<string, string> = {}) =>
    startAgent(mesh, {
      role: 'saga-coordinator',
      instanceId,
      stateStore: await redis.connect(),
      skills: registry(),
      processEnv,
    });

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

  it('compensates a step that finishes after its deadline, before the steps it follows, and only then ends compensated', async () => {
    await startCoordinator('saga-1');
    const releaseB = ledger.hold('reserve:b'); // step two's action takes effect only after its deadline
    const id = await submit([step('one', 'a', 'reserve'), step('slow', 'b', 'reserve', 300)]);
    await client.timeline(id, 'saga.step', 4); // one started, one completed, slow started, slow failed (deadline)
    const during = await client.get<SagaView>(id);
    expect(during.timeline.map((e) => e.detail)).toContainEqual(expect.stringContaining('slow missed its deadline'));
    // The undoing waits for slow's late result: step one, before it, is not undone yet.
    expect(during.status).toBe('running');
    expect(await effects()).toEqual(['reserve:a']);

    releaseB();
    const saga = await finished(id);
    expect(saga.status).toBe('compensated');
    expect(saga.reason).toContain('slow missed its deadline of 300 ms');
    expect(saga.reason).toContain('compensated slow then one');
    // Its late effect undone first, then step one's: the net effect is nothing.
    expect(await effects()).toEqual(['reserve:a', 'reserve:b', 'release:b', 'release:a']);
    expect(netEffects(await effects())).toEqual({});
    const details = saga.timeline.map((e) => `${e.type} ${e.detail ?? ''}`);
    const at = (text: string) => details.findIndex((d) => d.includes(text));
    expect(at('slow completed: done late')).toBeGreaterThan(at('slow failed'));
    expect(at('saga.compensated')).toBeGreaterThan(at('slow compensated'));
    expect(terminalEvents(saga)).toEqual(['workflow.compensated']);
  });

  it('compensates a step whose action never reports, once SAGA_RESULT_WAIT_MS after its deadline has passed', async () => {
    await startCoordinator('saga-1', { SAGA_RESULT_WAIT_MS: '300' });
    const id = await submit([step('one', 'a', 'reserve'), step('slow', 'b', 'hang', 300)]);
    const saga = await finished(id);
    expect(saga.status).toBe('compensated');
    expect(saga.reason).toContain('slow missed its deadline of 300 ms');
    expect(saga.reason).toContain('compensated slow then one');
    // Its outcome unknown, slow is released anyway (compensations are idempotent: releasing nothing is harmless).
    expect(await effects()).toEqual(['reserve:a', 'release:b', 'release:a']);
    expect(saga.timeline.map((e) => e.detail)).toContainEqual(expect.stringContaining('never reported'));
  });

  it('retries a failing compensation with backoff, then ends the saga failed naming the steps left to undo', async () => {
    await startCoordinator('saga-1', { SAGA_COMPENSATION_ATTEMPTS: '3', SAGA_COMPENSATION_BACKOFF_MS: '50' });
    const stuck = {
      ...step('two', 'b', 'reserve'),
      compensation: { skill: 'ledger', input: { id: 'b', text: 'x' }, params: { op: 'fail' } },
    };
    const id = await submit([step('one', 'a', 'reserve'), stuck, step('three', 'c', 'fail')]);
    const saga = await finished(id);
    expect(saga.status).toBe('failed');
    expect(saga.reason).toContain('compensation of two failed 3 time(s)');
    expect(saga.reason).toContain('left to undo: two, one');
    expect(ledger.calls.filter((c) => c === 'fail:b')).toHaveLength(3); // three attempts of the compensation
    expect(saga.timeline.map((e) => e.detail)).toContainEqual(expect.stringContaining('attempt 2 of 3 failed'));
    // It stops there: step one is left for the operator, in reverse order.
    expect(await effects()).toEqual(['reserve:a', 'reserve:b']);
    expect(terminalEvents(saga)).toEqual(['workflow.failed']);
  });

  it('cancel ends the workflow cancelled and compensates what took effect — an action finishing after the cancel too', async () => {
    await startCoordinator('saga-1');
    const releaseB = ledger.hold('reserve:b');
    const id = await submit([step('one', 'a', 'reserve'), step('two', 'b', 'reserve')]);
    await eventually('step two running', async () => (ledger.calls.includes('reserve:b') ? true : undefined));
    const cancel = await client.cancel(id, 'customer changed their mind');
    expect(cancel.status).toBe(202);
    const cancelled = await finished(id);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.reason).toContain('customer changed their mind');

    releaseB(); // step two takes effect after the cancel: it is undone as well, before step one
    await client.timeline(id, 'saga.compensated', 1);
    expect(await effects()).toEqual(['reserve:a', 'reserve:b', 'release:b', 'release:a']);
    expect(netEffects(await effects())).toEqual({});
    const after = await client.get<SagaView>(id);
    expect(after.status).toBe('cancelled');
    expect(terminalEvents(after)).toEqual(['workflow.cancelled']); // the saga's end adds no second one
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
