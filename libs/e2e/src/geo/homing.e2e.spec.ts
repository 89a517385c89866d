import type { EventBus, SubscribeOptions } from '@agent-mesh/bus';
import { createDefaultSkillRegistry, SkillRegistry, type Skill } from '@agent-mesh/skills';
import { InProcessMesh, startAgents, WorkflowClient, type AgentProcess } from '@agent-mesh/testing';

/*
 * Homing (docs/geo.md) on the memory bus. One memory broker stands for the replicated log (a
 * message published in one region is in the other's topics at once); each region's agents have
 * subscriptions of their own, as on two clusters (the region's name is added to every
 * subscription). Every role runs in both regions with MESH_GEO_PEER_WEB_URLS set: a workflow
 * submitted in one region is run by that region's agents only, each task once.
 */

const REGIONS = ['us-east', 'eu-west'] as const;
type Region = (typeof REGIONS)[number];

/** A bus whose subscriptions are the region's own, as each cluster's are. */
function inRegion(region: Region): (bus: EventBus) => EventBus {
  return (bus) =>
    Object.assign(Object.create(bus) as EventBus, {
      subscribe: (options: SubscribeOptions, listener: Parameters<EventBus['subscribe']>[1]) =>
        bus.subscribe({ ...options, subscription: `${options.subscription}.${region}` }, listener),
    });
}

/** Which region's worker ran which task (by the stable task id). */
type Runs = Map<string, Region[]>;

/** The default skills, with `keywords` telling `runs` which region ran each task. */
function countingSkills(region: Region, runs: Runs): SkillRegistry {
  const keywords = createDefaultSkillRegistry().require('keywords');
  const counted: Skill = {
    ...keywords,
    name: 'keywords',
    run: async (input, context) => {
      const taskId = context.taskId ?? `no task id: ${input.id}`;
      runs.set(taskId, [...(runs.get(taskId) ?? []), region]);
      return keywords.run(input, context);
    },
    combine: (outputs) => keywords.combine(outputs),
  };
  return new SkillRegistry([
    ...createDefaultSkillRegistry()
      .list()
      .filter((s) => s.name !== 'keywords'),
    counted,
  ]);
}

describe('homing: two regions on one replicated log, each runs its own workflows (memory bus)', () => {
  const mesh = new InProcessMesh();
  const runs: Runs = new Map();
  const orchestrators = new Map<Region, AgentProcess>();

  beforeAll(async () => {
    for (const region of REGIONS) {
      const [orchestrator] = await startAgents(mesh, ['orchestrator', 'aggregator', 'worker', 'worker'], () => ({
        env: { MESH_REGION: region, MESH_GEO_PEER_WEB_URLS: 'http://127.0.0.1:1' },
        wrapBus: inRegion(region),
        skills: countingSkills(region, runs),
      }));
      orchestrators.set(region, orchestrator as AgentProcess);
    }
  }, 60_000);

  afterAll(() => mesh.stopAll());

  const client = (region: Region) => new WorkflowClient((orchestrators.get(region) as AgentProcess).url);

  it('a workflow submitted in each region completes there, every task run once, by its home region', async () => {
    const fanOut = (region: Region) => ({
      name: `fan-out in ${region}`,
      step: {
        kind: 'fan-out',
        skill: 'keywords',
        inputs: [1, 2, 3].map((n) => ({ id: `${region}-${n}`, text: `homed in ${region} number ${n}` })),
      },
    });
    const [east, west] = await Promise.all(REGIONS.map((region) => client(region).run(fanOut(region))));
    expect(east.status).toBe('completed');
    expect(west.status).toBe('completed');

    // Six tasks, each run once, by the region its workflow was submitted in.
    expect([...runs.values()].sort()).toEqual([
      ['eu-west'],
      ['eu-west'],
      ['eu-west'],
      ['us-east'],
      ['us-east'],
      ['us-east'],
    ]);
    // The other region's orchestrator took nothing up: the workflow is not in its state.
    expect((await client('eu-west').request('GET', `/workflows/${east.id}`)).status).toBe(404);
    expect((await client('us-east').request('GET', `/workflows/${west.id}`)).status).toBe(404);
  });

  it('every event of a workflow carries its home region', async () => {
    const done = await client('eu-west').run({
      step: { kind: 'task', skill: 'keywords', input: { id: 'one', text: 'one task in eu-west' } },
    });
    const events = (await mesh.readAll('workflow.events'))
      .map((m) => JSON.parse(m.payload.toString()) as { correlationId: string; home?: string; type: string })
      .filter((e) => e.correlationId === done.id);
    expect(events.length).toBeGreaterThan(2);
    expect(new Set(events.map((e) => e.home))).toEqual(new Set(['eu-west']));
  });
});
