import { AggregatorModule } from '@agent-mesh/agents/aggregator';
import { MarketMakerModule } from '@agent-mesh/agents/market-maker';
import { OrchestratorModule } from '@agent-mesh/agents/orchestrator';
import { SagaCoordinatorModule } from '@agent-mesh/agents/saga-coordinator';
import type { ReplayedRole } from './rebuild';

/**
 * The roles that keep state, with the keys each keeps of a workflow (the agents table of
 * docs/architecture.md). Workers keep none. A role that adds a key space of a workflow adds
 * its pattern here, or the rebuild leaves that key as it was.
 */
export const REPLAYED_ROLES: readonly ReplayedRole[] = [
  {
    role: 'orchestrator',
    modules: [OrchestratorModule],
    workflowKeys: (id) => [`orchestrator:wf:${id}`, `orchestrator:wf:${id}:*`, `orchestrator:board:${id}:*`],
  },
  {
    role: 'aggregator',
    modules: [AggregatorModule],
    workflowKeys: (id) => [`aggregator:join:${id}:*`, `aggregator:rounds:${id}:*`],
  },
  {
    role: 'saga-coordinator',
    modules: [SagaCoordinatorModule],
    workflowKeys: (id) => [`saga:${id}:*`],
  },
  {
    role: 'market-maker',
    modules: [MarketMakerModule],
    // Ask ids are `<workflow>:<step>:ask-<round>`.
    workflowKeys: (id) => [`market:ask:${id}:*`, `market:bids:${id}:*`, `market:open:${id}:*`, `rounds:${id}:*`],
  },
];
