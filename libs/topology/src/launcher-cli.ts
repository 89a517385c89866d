import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMPOSE_FILE, renderCompose } from './compose';
import { renderKubernetes } from './kubernetes';
import { launcherDown, launcherUp, readLauncherState, runningProcesses, type LauncherIo } from './launcher';
import { DEFAULT_TOPOLOGY_OPTIONS, meshTopology, type TopologyOptions } from './topology';

const USAGE = `usage: npm run mesh:local -- [up] [--workers N] [--regions 1|2] [--skip-build]
       npm run mesh:local -- down | status
       npm run deploy:generate            (writes ${COMPOSE_FILE} and deploy/k8s/base's generated files from libs/topology)`;

function numberOption(args: string[], name: string, fallback: number): number {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isInteger(value)) throw new Error(`${name} needs a whole number (got "${args[at + 1] ?? ''}")\n${USAGE}`);
  return value;
}

/** Parses `[--workers N] [--regions 1|2]`; the launcher's default is one region. */
export function topologyOptions(args: string[]): TopologyOptions {
  const regions = numberOption(args, '--regions', 1);
  if (regions !== 1 && regions !== 2) throw new Error(`--regions must be 1 or 2 (got ${regions})`);
  return { regions, workers: numberOption(args, '--workers', DEFAULT_TOPOLOGY_OPTIONS.workers) };
}

/** `npm run mesh:local` and `npm run deploy:generate` (tools/mesh-local.ts is the shell). */
export async function runLauncher(argv: string[], root: string): Promise<number> {
  const io: LauncherIo = {
    root,
    stateDir: process.env['MESH_LOCAL_DIR'] ?? join(root, 'tmp', 'mesh-local'),
    log: (l) => console.log(`mesh:local: ${l}`),
  };
  const [command = 'up', ...rest] = argv[0]?.startsWith('--') ? ['up', ...argv] : argv;
  switch (command) {
    case 'up': {
      const topology = meshTopology(topologyOptions(rest));
      await launcherUp(topology, io, { skipBuild: rest.includes('--skip-build') });
      io.log(
        `up: orchestrator at http://127.0.0.1:${topology.regions[0].agents[0].hostPort}; stop with \`npm run mesh:local -- down\``,
      );
      return 0;
    }
    case 'down':
      await launcherDown(io);
      return 0;
    case 'status': {
      const state = readLauncherState(io);
      if (!state) return (io.log('no local mesh is up'), 0);
      const running = new Set(runningProcesses(state).map((p) => p.pid));
      for (const p of [...state.redis, ...state.agents])
        io.log(`${p.name.padEnd(28)} pid ${p.pid} ${running.has(p.pid) ? 'running' : 'EXITED'}  ${p.log}`);
      return 0;
    }
    case 'generate': {
      const files = { [COMPOSE_FILE]: renderCompose(meshTopology(DEFAULT_TOPOLOGY_OPTIONS)), ...renderKubernetes() };
      for (const [file, content] of Object.entries(files)) writeFileSync(join(root, file), content);
      io.log(`wrote ${Object.keys(files).join(', ')}`);
      return 0;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}
