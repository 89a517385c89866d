/**
 * Builds the agent apps for the multi-process benchmarks into a directory of the benchmark's
 * own (tmp/bench-build), the way tools/build-app.js builds dist/<app>: SWC with the decorator
 * metadata Nest needs, path aliases rewritten to relative requires. A separate tree, so a test
 * rebuilding dist/ meanwhile cannot pull files from under running benchmark processes.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { transformFileSync } from '@swc/core';

export const WORKSPACE = join(__dirname, '..', '..');
export const BUILD_DIR = join(WORKSPACE, 'tmp', 'bench-build');
export const AGENT_APPS = ['orchestrator', 'aggregator', 'worker', 'saga-coordinator', 'market-maker'] as const;
export type AgentApp = (typeof AGENT_APPS)[number];

const SKIP = /(\.spec\.ts$|\/conformance\/|\/testing\/|^libs\/testing\/)/;

interface TsconfigBase {
  readonly compilerOptions: { readonly paths: Record<string, string[]> };
}

function sources(dir: string): string[] {
  return readdirSync(join(WORKSPACE, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sources(rel);
    return rel.endsWith('.ts') && !SKIP.test(rel) ? [rel] : [];
  });
}

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
  const { compilerOptions } = JSON.parse(readFileSync(join(WORKSPACE, 'tsconfig.base.json'), 'utf8')) as TsconfigBase;
  const files = [...AGENT_APPS.flatMap((app) => sources(join('apps', app, 'src'))), ...sources('libs')];
  rmSync(BUILD_DIR, { recursive: true, force: true });
  for (const file of files) {
    const { code, map } = transformFileSync(join(WORKSPACE, file), {
      swcrc: false,
      sourceMaps: true,
      filename: file,
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2022',
        keepClassNames: true,
        baseUrl: WORKSPACE,
        paths: compilerOptions.paths,
      },
      module: { type: 'commonjs' },
    });
    const target = join(BUILD_DIR, file.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, `${code}\n//# sourceMappingURL=${basename(target)}.map\n`);
    if (map) writeFileSync(`${target}.map`, map);
  }
  for (const app of AGENT_APPS) {
    const main = join(BUILD_DIR, 'apps', app, 'src', 'main.js');
    if (!existsSync(main)) throw new Error(`build of ${app} produced no ${relative(WORKSPACE, main)}`);
  }
  return { files: files.length, ms: Date.now() - started };
}
