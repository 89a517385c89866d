import { parseArgs } from 'node:util';
import type { BusMessage } from '@agent-mesh/bus';
import {
  AgentHeartbeatV1,
  BrokerStatsV1,
  createMeshEventRegistry,
  qualifyTopic,
  Topics,
  type AgentHeartbeat,
  type BrokerStats,
} from '@agent-mesh/contracts';
import { UsageError, type BrokerCommandGroup } from '../command';
import { LiveView, styles } from '../live-view';
import { MeshTop } from '../mesh-top';
import { TopicFollower } from '../topic-follower';
import { untilInterrupted } from './interrupt';

/**
 * `mesh top`: the agents (their heartbeats on `mesh.agents`), what they handle per second, and
 * the subscriptions' backlog (`mesh.stats`), read with non-durable readers from the latest
 * message. On a terminal it redraws in place every second; otherwise it prints a line for each
 * agent or subscription whose figures changed.
 */
export const topCommand: BrokerCommandGroup = {
  name: 'top',
  summary: 'agents, throughput and backlog, live (heartbeats on mesh.agents, broker stats on mesh.stats; Ctrl-C stops)',
  usage: ['mesh top [--refresh <ms, default 1000>]'],
  async run(args, context) {
    const { values } = parseArgs({ args: [...args], options: { refresh: { type: 'string' } } });
    const refreshMs = values.refresh === undefined ? 1000 : Number(values.refresh);
    if (!Number.isInteger(refreshMs) || refreshMs < 100) {
      throw new UsageError(`--refresh must be a number of milliseconds, 100 or more (got "${values.refresh}")`);
    }
    const { output, naming } = context;
    const s = styles(output, context.env);
    const live = output.terminal !== undefined;
    const top = new MeshTop();
    const view = new LiveView(output);
    const registry = createMeshEventRegistry();
    const refused = new Set<string>();
    // On a terminal the block keeps a row free: the cursor's, below it.
    const draw = () =>
      view.render(top.lines(s, live, Date.now(), output.terminal ? output.terminal.rows - 1 : undefined));
    const take = (message: BusMessage) => {
      const decoded = registry.decode(message.payload);
      if (!decoded.ok) {
        // One note per kind of problem, not one per heartbeat.
        if (!refused.has(decoded.code))
          output.err(`mesh top: skipped a message on ${message.topic}: ${decoded.reason}`);
        refused.add(decoded.code);
        return;
      }
      const { definition, envelope } = decoded;
      if (definition === AgentHeartbeatV1) top.heartbeat(envelope.data as AgentHeartbeat);
      else if (definition === BrokerStatsV1) top.brokerStats(envelope.data as BrokerStats);
      else return;
      draw();
    };
    const follower = await TopicFollower.start({
      bus: context.bus,
      topics: [qualifyTopic(naming, Topics.agents), qualifyTopic(naming, Topics.stats)],
      onMessage: take,
      onProblem: (what) => output.err(`mesh top: ${what}`),
    });
    output.err(`following ${Topics.agents} and ${Topics.stats} (Ctrl-C stops)`);
    draw();
    const timer = live ? setInterval(draw, refreshMs) : undefined;
    await untilInterrupted();
    if (timer) clearInterval(timer);
    await follower.close();
    return 0;
  },
};
