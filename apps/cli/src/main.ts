import 'reflect-metadata';
import { runMeshCli } from '@agent-mesh/cli';

// `mesh … | head`: a reader that stops early is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => process.exit(error.code === 'EPIPE' ? 0 : 1));

// `mesh <group> <command> …` (npx mesh): the logic is in libs/cli.
runMeshCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`mesh: ${String(error)}\n`);
    process.exit(1);
  },
);
