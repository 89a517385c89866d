// `npm run mesh:local [-- up|down|status …]` and `npm run deploy:generate`: the logic is in libs/topology.
import { join } from 'node:path';
import { runLauncher } from '@agent-mesh/topology';

runLauncher(process.argv.slice(2), join(__dirname, '..')).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`mesh:local: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
