import { MemoryBroker } from '@agent-mesh/bus';
import {
  createMeshEventRegistry,
  DEFAULT_TOPIC_NAMING,
  qualifyTopic,
  RegionAdoptedV1,
  Topics,
  type RegionAdopted,
} from '@agent-mesh/contracts';
import { homeOf, regionOfHome, RegionHoming } from './region-homing';

const registry = createMeshEventRegistry();
const topic = qualifyTopic(DEFAULT_TOPIC_NAMING, Topics.regions);

async function adopt(broker: MemoryBroker, data: RegionAdopted): Promise<void> {
  const { payload } = registry.createEncoded(
    RegionAdoptedV1,
    data,
    { source: 'cli@test', region: data.adoptedBy },
    { correlationId: `adopt-${data.region}-${data.epoch}` },
  );
  await broker.connect().publish(topic, { payload });
}

describe('RegionHoming', () => {
  it('names homes by region and epoch', () => {
    expect(homeOf('us-east', 0)).toBe('us-east');
    expect(homeOf('us-east', 2)).toBe('us-east#2');
    expect(regionOfHome('us-east#2')).toBe('us-east');
    expect(regionOfHome('eu-west')).toBe('eu-west');
  });

  it('with no adoption: takes its own region only, homes new workflows at epoch 0', async () => {
    const homing = await RegionHoming.load(new MemoryBroker().connect(), registry, DEFAULT_TOPIC_NAMING, 'us-east');
    expect(homing.home).toBe('us-east');
    expect(homing.takes('us-east')).toBe(true);
    expect(homing.takes('eu-west')).toBe(false);
    await homing.close();
  });

  it('reads the adoptions there are before it answers, and follows new ones', async () => {
    const broker = new MemoryBroker();
    await adopt(broker, { region: 'us-east', epoch: 0, adoptedBy: 'eu-west', requestedBy: 'test' });
    const east = await RegionHoming.load(broker.connect(), registry, DEFAULT_TOPIC_NAMING, 'us-east');
    const west = await RegionHoming.load(broker.connect(), registry, DEFAULT_TOPIC_NAMING, 'eu-west');
    // The region that came back: the adopted home is not its own any more; its new ones are at epoch 1.
    expect(east.takes('us-east')).toBe(false);
    expect(east.home).toBe('us-east#1');
    expect(east.takes('us-east#1')).toBe(true);
    expect(west.takes('us-east')).toBe(true);
    expect(west.takes('us-east#1')).toBe(false);
    expect(west.adoptedBy('eu-west')).toEqual(['us-east']);

    const heard: RegionAdopted[] = [];
    west.onAdoption((adoption) => heard.push(adoption));
    await adopt(broker, { region: 'us-east', epoch: 1, adoptedBy: 'eu-west', requestedBy: 'test' });
    // A second adoption of the same home changes nothing: the first stands.
    await adopt(broker, { region: 'us-east', epoch: 1, adoptedBy: 'ap-south', requestedBy: 'test' });
    await waitFor(() => heard.length === 1 && east.home === 'us-east#2');
    expect(west.takes('us-east#1')).toBe(true);
    expect(heard).toEqual([expect.objectContaining({ region: 'us-east', epoch: 1, adoptedBy: 'eu-west' })]);
    await Promise.all([east.close(), west.close()]);
  });
});

async function waitFor(done: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
