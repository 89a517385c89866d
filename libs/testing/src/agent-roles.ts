import type { Type } from '@nestjs/common';
import { AggregatorModule } from '@agent-mesh/agents/aggregator';
import { MarketMakerModule } from '@agent-mesh/agents/market-maker';
import { OrchestratorModule } from '@agent-mesh/agents/orchestrator';
import { SagaCoordinatorModule } from '@agent-mesh/agents/saga-coordinator';
import { WorkerModule } from '@agent-mesh/agents/worker';
import type { AgentProcess, AgentProcessOptions, InProcessMesh } from './in-process-mesh';

export type AgentRole = 'orchestrator' | 'aggregator' | 'worker' | 'market-maker' | 'saga-coordinator';

/** The agent module each role runs. */
export const AGENT_MODULES: Readonly<Record<AgentRole, readonly Type<unknown>[]>> = {
  orchestrator: [OrchestratorModule],
  aggregator: [AggregatorModule],
  worker: [WorkerModule],
  'market-maker': [MarketMakerModule],
  'saga-coordinator': [SagaCoordinatorModule],
};

/** What every workflow needs: an orchestrator, an aggregator and two workers, started in this order. */
export const WORKFLOW_ROLES: readonly AgentRole[] = ['orchestrator', 'aggregator', 'worker', 'worker'];

export interface AgentStartOptions extends Omit<AgentProcessOptions, 'role' | 'modules'> {
  /** Set in process.env only while the process starts (for settings read there, e.g. BID_PRICE_FACTOR). */
  readonly processEnv?: Readonly<Record<string, string>>;
}

export interface AgentStart extends AgentStartOptions {
  readonly role: AgentRole;
}

/** Runs `body` with the variables set in process.env, then puts back what was there (or nothing). */
export async function withProcessEnv<T>(vars: Readonly<Record<string, string>>, body: () => Promise<T>): Promise<T> {
  const previous = new Map(Object.keys(vars).map((name) => [name, process.env[name]]));
  Object.assign(process.env, vars);
  try {
    return await body();
  } finally {
    for (const [name, value] of previous) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/** Starts one agent process of a role, running that role's module. */
export function startAgent(
  mesh: InProcessMesh,
  { role, processEnv = {}, ...options }: AgentStart,
): Promise<AgentProcess> {
  return withProcessEnv(processEnv, () => mesh.start({ ...options, role, modules: AGENT_MODULES[role] }));
}

/**
 * Starts agent processes one after the other, in the order given; `defaults(role)` is called
 * once for each (so each process gets its own skill registry or state connection), and what an
 * entry says itself overrides it.
 */
export async function startAgents(
  mesh: InProcessMesh,
  agents: readonly (AgentRole | AgentStart)[],
  defaults: (role: AgentRole) => AgentStartOptions | Promise<AgentStartOptions> = () => ({}),
): Promise<AgentProcess[]> {
  const started: AgentProcess[] = [];
  for (const agent of agents) {
    const own: AgentStart = typeof agent === 'string' ? { role: agent } : agent;
    started.push(await startAgent(mesh, { ...(await defaults(own.role)), ...own }));
  }
  return started;
}
