import 'reflect-metadata';
import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { AggregatorModule } from '@agent-mesh/agents/aggregator';
import { MarketMakerModule } from '@agent-mesh/agents/market-maker';
import { OrchestratorModule } from '@agent-mesh/agents/orchestrator';
import { SagaCoordinatorModule } from '@agent-mesh/agents/saga-coordinator';
import { WorkerModule } from '@agent-mesh/agents/worker';
import { MeshRuntimeModule, runAgent } from '@agent-mesh/runtime';
import { createStateStore } from '@agent-mesh/state';
import { EffectLedger, faultSkillRegistry } from './fault-skills';

/*
 * The entry point of one agent process of the fault suite: the role's module, as apps/<role>
 * runs it, with the suite's skills in the registry (every role needs their names: the
 * orchestrator checks a spec's skills, the aggregator and supervisors combine with them).
 * Its argument names the role (`node fault-agent.js worker`, the suite's command in its topology);
 * FAULT_LEDGER_REDIS_URL and FAULT_LEDGER_PREFIX the effect ledger. Built with the agent apps by
 * tools/compile-apps.js (run-faults.ts does it), so a restart after a SIGKILL starts as fast as a
 * real agent.
 */

const ROLE_MODULES: Readonly<Record<string, Type<unknown>>> = {
  orchestrator: OrchestratorModule,
  aggregator: AggregatorModule,
  worker: WorkerModule,
  'market-maker': MarketMakerModule,
  'saga-coordinator': SagaCoordinatorModule,
};

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

const role = process.argv[2] ?? '';

function faultAgentModule(): DynamicModule {
  const roleModule = ROLE_MODULES[role];
  if (!roleModule)
    throw new Error(`the role argument must be one of ${Object.keys(ROLE_MODULES).join(', ')} (got "${role}")`);
  const ledger = new EffectLedger(
    () =>
      createStateStore({ redisUrl: required('FAULT_LEDGER_REDIS_URL'), keyPrefix: required('FAULT_LEDGER_PREFIX') }),
    process.env['MESH_REGION'],
  );
  return {
    module: FaultAgentModule,
    imports: [MeshRuntimeModule.forRoot({ role, skills: faultSkillRegistry(ledger) }), roleModule],
  };
}

@Module({})
class FaultAgentModule {}

const root = faultAgentModule();

@Module({ imports: [root] })
class FaultAgentApp {}

runAgent(FaultAgentApp, role);
