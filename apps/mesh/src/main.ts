import 'reflect-metadata';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { redactCredentials } from '@agent-mesh/contracts';
import { demoWorkflows, llmDemoWorkflows, loadDocuments, runDemo } from '@agent-mesh/demo';
import { MESH_TRANSPORT_OPTIONS, type MeshTransportOptions } from '@agent-mesh/nest-pulsar';
import { bootstrapAgent, runAgent, SKILL_REGISTRY, STATE_STORE } from '@agent-mesh/runtime';
import type { SkillRegistry } from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';
import { MeshAppModule } from './app.module';

/** `npm start`: the embedded mesh runs the demo and exits; `--serve` keeps it running. */
async function demo(): Promise<number> {
  const app = await bootstrapAgent(MeshAppModule, { port: 0, logLevels: ['error'] });
  try {
    const state = app.get<StateStore>(STATE_STORE);
    const transport = app.get<MeshTransportOptions>(MESH_TRANSPORT_OPTIONS);
    process.stdout.write(`Agent Mesh embedded demo — bus: ${transport.bus.driver}, state: ${state.driver}\n`);
    const documents = loadDocuments(join(__dirname, '../../../data/documents'));
    process.stdout.write(`documents: ${documents.map((d) => d.id).join(', ')}\n`);
    // With a model configured (LLM_BASE_URL), the demo adds a planner, model solvers and a model judge.
    const withModel = app.get<SkillRegistry>(SKILL_REGISTRY).get('llm') !== undefined;
    if (withModel) {
      const endpoint = redactCredentials(process.env['LLM_BASE_URL'] ?? '');
      process.stdout.write(`model: ${process.env['LLM_MODEL'] ?? ''} at ${endpoint}\n`);
    }
    const summary = await runDemo({
      baseUrl: (await app.getUrl()).replace('[::1]', '127.0.0.1'),
      workflows: [...demoWorkflows(documents), ...(withModel ? llmDemoWorkflows(documents) : [])],
      // A model's answers take seconds each; the planner, the rounds and the judge run several in a row.
      timeoutMs: withModel ? 300_000 : undefined,
    });
    return summary.failed === 0 ? 0 : 1;
  } finally {
    await app.close();
  }
}

if (process.argv.includes('--serve')) {
  runAgent(MeshAppModule, 'mesh');
} else {
  demo().then(
    (code) => process.exit(code),
    (error: unknown) => {
      new Logger('mesh').error(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
