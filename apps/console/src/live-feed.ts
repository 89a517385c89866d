import { useEffect, useState } from 'react';
import type { AgentHeartbeat, BrokerStats, ConsoleEvent } from './api';
import { followEvents, type StreamState } from './event-stream';

/** An agent as the console knows it: its latest heartbeat, and its rates over the last two. */
export interface AgentRow {
  readonly heartbeat: AgentHeartbeat;
  /** Messages handled per second between its last two heartbeats (none after the first). */
  readonly handledPerSecond?: number;
  readonly failedPerSecond?: number;
}

export interface LiveFeed {
  readonly state: StreamState;
  /** Bumped on every workflow event: views read their data again. */
  readonly workflowTick: number;
  /** The id of the workflow of the latest workflow event. */
  readonly lastWorkflowId?: string;
  readonly agents: ReadonlyMap<string, AgentRow>;
  readonly stats?: BrokerStats;
}

function rate(
  now: AgentHeartbeat,
  before: AgentHeartbeat | undefined,
  field: 'handled' | 'failed',
): number | undefined {
  if (!before || before.pid !== now.pid) return undefined;
  const seconds = (Date.parse(now.at) - Date.parse(before.at)) / 1000;
  return seconds > 0 ? Math.max(0, now.counters[field] - before.counters[field]) / seconds : undefined;
}

/** The console's live state from `/console/events`, followed again when the API key changes. */
export function useLiveFeed(apiKey: string): LiveFeed {
  const [feed, setFeed] = useState<LiveFeed>({ state: 'connecting', workflowTick: 0, agents: new Map() });
  useEffect(() => {
    const onEvent = (event: ConsoleEvent) =>
      setFeed((current) => {
        switch (event.kind) {
          case 'ready':
            return { ...current, workflowTick: current.workflowTick + 1 };
          case 'workflow':
            return { ...current, workflowTick: current.workflowTick + 1, lastWorkflowId: event.workflowId };
          case 'agent': {
            const before = current.agents.get(event.heartbeat.agentId)?.heartbeat;
            const agents = new Map(current.agents);
            agents.set(event.heartbeat.agentId, {
              heartbeat: event.heartbeat,
              handledPerSecond: rate(event.heartbeat, before, 'handled'),
              failedPerSecond: rate(event.heartbeat, before, 'failed'),
            });
            return { ...current, agents };
          }
          case 'stats':
            return { ...current, stats: event.stats };
        }
      });
    return followEvents(onEvent, (state) => setFeed((current) => ({ ...current, state })));
  }, [apiKey]);
  return feed;
}
