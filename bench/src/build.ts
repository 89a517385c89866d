/**
 * Builds the agent apps for the multi-process benchmarks into a directory of the benchmark's
 * own (tmp/bench-build) with tools/compile-apps.js, as `nx build` builds dist/<app>. A separate
 * tree, so a test rebuilding dist/ meanwhile cannot pull files from under running benchmark
 * processes.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
// tools/ is the workspace's build tooling, not an Nx project: nothing to declare a dependency on.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { compileApps } from '../../tools/compile-apps';

export const WORKSPACE = join(__dirname, '..', '..');
export const BUILD_DIR = join(WORKSPACE, 'tmp', 'bench-build');
export const AGENT_APPS = ['orchestrator', 'aggregator', 'worker', 'saga-coordinator', 'market-maker'] as const;
export type AgentApp = (typeof AGENT_APPS)[number];

/**
 * Where the agent processes are started from: the benchmark's own build, or a tree given in
 * BENCH_AGENT_BUILD (built the same way; e.g. to compare a library change against this build).
 */
export function agentBuildDir(): string {
  return process.env['BENCH_AGENT_BUILD'] || BUILD_DIR;
}

/** The entry point of an app in the agent build. */
export function builtAgentMain(app: string): string {
  return join(agentBuildDir(), 'apps', app, 'src', 'main.js');
}

/** Compiles every agent app and the libraries into BUILD_DIR; returns the time it took. */
export function buildAgents(): { files: number; ms: number } {
  const started = Date.now();
  if (process.env['BENCH_AGENT_BUILD']) {
    for (const app of AGENT_APPS) {
      if (!existsSync(builtAgentMain(app))) throw new Error(`BENCH_AGENT_BUILD: ${builtAgentMain(app)} is missing`);
    }
    return { files: 0, ms: 0 };
  }
  const files = compileApps(AGENT_APPS, BUILD_DIR);
  return { files, ms: Date.now() - started };
}
