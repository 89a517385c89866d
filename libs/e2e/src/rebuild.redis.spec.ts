import type { BusMessage, EventBus, Reader } from '@agent-mesh/bus';
import { EnvelopeProperties, WorkflowSubmittedV1 } from '@agent-mesh/contracts';
import type { StateStore } from '@agent-mesh/state';
import { eventually, InProcessMesh, RedisFixture, startAgents, WorkflowClient } from '@agent-mesh/testing';
import { PatternSkills } from './support/pattern-scenarios';
import {
  comparable,
  deleteWorkflowKeys,
  describeRebuild,
  rebuildWorkflowSpecs,
  replay,
  settled,
  type RebuildMesh,
} from './support/rebuild-scenarios';
import { sleep } from './support/test-skills';

/*
 * The rebuild from the log (support/rebuild-scenarios.ts) on the memory bus, the roles' state in
 * the real Redis: an orchestrator, an aggregator, a saga coordinator, a market maker and two
 * workers, each a "process" with its own Redis connection. The same runs on the real broker in
 * rebuild.pulsar.spec.ts.
 */

const ENV = { MESH_BOARDS: 'default,ideas' };

describe('rebuild from the log (memory bus, state in the real Redis)', () => {
  const redis = new RedisFixture();
  const mesh = new InProcessMesh();
  const skills = new PatternSkills();
  let client: WorkflowClient;
  let state: StateStore;

  beforeAll(async () => {
    const [orchestrator] = await startAgents(
      mesh,
      ['orchestrator', 'aggregator', 'saga-coordinator', 'market-maker', 'worker', 'worker'],
      async (role) => ({
        skills: skills.registry(),
        env: ENV,
        stateStore: role === 'worker' ? undefined : await redis.connect(),
      }),
    );
    client = new WorkflowClient(orchestrator.url, { timeoutMs: 20_000 });
    state = await redis.connect();
    await eventually('the mesh to answer', async () =>
      (await fetch(`${orchestrator.url}/health`)).ok ? true : undefined,
    );
  });

  afterAll(async () => {
    skills.hang.release();
    await sleep(100);
    await mesh.stopAll();
    await redis.cleanup();
  });

  const rebuildMesh = (bus: EventBus = mesh.broker.connect()): RebuildMesh => ({
    client,
    skills,
    bus,
    naming: mesh.naming,
    state,
    env: ENV,
    waitMs: 20_000,
    quietMs: 150,
  });

  describeRebuild(() => rebuildMesh());

  it('rebuilds a workflow whose start the broker stamped before its workflow.submitted', async () => {
    // The accepting process starts a workflow while workflow.submitted is being published, so a
    // loaded broker can stamp the start's events first (CI's geo run: a blackboard's seed entry
    // before its submission; the rebuild dropped the entry, the adopted workflow never ended).
    const blackboard = rebuildWorkflowSpecs().find((s) => s.name.startsWith('blackboard')) as { spec: object };
    const lateMs = 500;
    const memory = rebuildMesh(new SubmissionsStampedLate(mesh.broker.connect(), lateMs));
    const id = await client.submit(blackboard.spec);
    expect((await client.finished(id, memory.waitMs)).status).toBe('completed');
    const live = await settled(memory, id);
    await deleteWorkflowKeys(state, id);

    await sleep(lateMs); // so that the late stamp is past: a rebuild leaves what is not due yet to fire live
    const report = await replay(memory, { workflow: [id] });

    expect(report.unsettled).toEqual([]);
    expect(report.unmatchedOutputs).toEqual([]);
    expect(comparable(await settled(memory, id))).toEqual(comparable(live));
  });
});

/** The log as a loaded broker may have stamped it: each workflow.submitted `lateMs` after it came. */
class SubmissionsStampedLate implements EventBus {
  readonly driver: string;

  constructor(
    private readonly bus: EventBus,
    private readonly lateMs: number,
  ) {
    this.driver = bus.driver;
  }

  get connectionStatus() {
    return this.bus.connectionStatus;
  }

  onConnectionStatus(listener: Parameters<EventBus['onConnectionStatus']>[0]) {
    return this.bus.onConnectionStatus(listener);
  }

  publish(...args: Parameters<EventBus['publish']>) {
    return this.bus.publish(...args);
  }

  subscribe(...args: Parameters<EventBus['subscribe']>) {
    return this.bus.subscribe(...args);
  }

  async createReader(options: Parameters<EventBus['createReader']>[0]): Promise<Reader> {
    const reader = await this.bus.createReader(options);
    const restamp = (message: BusMessage | null): BusMessage | null =>
      message?.properties[EnvelopeProperties.eventType] === WorkflowSubmittedV1.type
        ? { ...message, publishTime: message.publishTime + this.lateMs }
        : message;
    return {
      topic: reader.topic,
      readNext: async (timeoutMs) => restamp(await reader.readNext(timeoutMs)),
      hasMessageAvailable: () => reader.hasMessageAvailable(),
      close: () => reader.close(),
    };
  }

  close() {
    return this.bus.close();
  }
}
