import 'reflect-metadata';
import { join } from 'node:path';
import { runHop } from './hop';

const USAGE = `usage: npm run bench -- <benchmark> [options]

benchmarks:
  hop    latency of one event hop (publish -> handler invoked): mesh on the memory bus,
         mesh on pulsar-ws and a raw WebSocket pair against the same broker

options (hop):
  --n <count>        measured events per bus (default 2000, at least 2000 recommended)
  --warmup <count>   unmeasured events per bus first (default 300)
  --block <count>    events per block when pulsar-ws and raw alternate (default 250)
  --gap-ms <ms>      idle time before each event, outside the measurement (default 0)
  --web-url <url>    Pulsar web service (default $PULSAR_WEB_URL or http://127.0.0.1:8080)
`;

function flag(args: readonly string[], name: string): string | undefined {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const value = args[at + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a value`);
  return value;
}

function count(args: readonly string[], name: string, fallback: number, min = 1): number {
  const text = flag(args, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got "${text}"`);
  return value;
}

async function main(argv: readonly string[]): Promise<number> {
  const [benchmark, ...args] = argv;
  switch (benchmark) {
    case 'hop':
      return runHop({
        n: count(args, '--n', 2000),
        warmup: count(args, '--warmup', 300),
        block: count(args, '--block', 250),
        gapMs: count(args, '--gap-ms', 0, 0),
        webUrl: (flag(args, '--web-url') ?? process.env['PULSAR_WEB_URL'] ?? 'http://127.0.0.1:8080').replace(/\/$/, ''),
        resultsDir: join(__dirname, '..', 'results'),
      });
    default:
      process.stderr.write(benchmark && benchmark !== '--help' ? `unknown benchmark "${benchmark}"\n\n${USAGE}` : USAGE);
      return benchmark && benchmark !== '--help' ? 2 : 0;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
