import 'reflect-metadata';
import { join } from 'node:path';
import { runBus } from './bus';
import { runChain } from './chain';
import { BenchContext, type CommonOptions } from './context';
import { runFanOut, runFanOutLean } from './fanout';
import { runHop } from './hop';
import { runMarket, runMarketMesh } from './market';
import { newRunId } from './meshes';
import { runMemory, runSoak } from './memory';
import { runPeer } from './peer';
import { Report } from './report';
import { runSaga } from './saga';
import { WORKSPACE } from './build';

const PARTS = ['market', 'bus', 'hop', 'chain', 'fanout', 'memory', 'saga', 'peer'] as const;
type Part = (typeof PARTS)[number];

const USAGE = `usage: npm run bench [-- <part> ...] [options]

Without a part, runs every part below (not the soak) and writes bench/results/latest.json and
the generated table of docs/benchmarks.md. With parts (e.g. fanout chain hop), runs those, in
that order, and writes bench/results/<part>[-<part>...].json.

parts:
  market   orders matched per second: the market maker's OrderBook beside a minimal matcher, and the
           market maker agent end to end (market-step workflows, fills per second)
  bus      memory EventBus throughput (publish + Shared delivery + ack), beside a trivial queue
  hop      one event hop, publish -> handler: memory, pulsar-ws (and native), raw ws pair
  chain    chain-3 workflow, submit -> result p50/p99: memory and Pulsar meshes, raw chain baseline
  fanout   10-branch fan-out at saturation: memory and Pulsar; 1/2/4 workers; 10/100/1000 branches;
           the lean deployment
  memory   RSS of every agent process at idle and after the fan-out runs
  saga     4-step sagas per second; step failure -> last compensation
  peer     the fan-out on BullMQ flows against the same Redis (ratio mesh/BullMQ)
  soak     --minutes N (default 2) of fan-out load; fails if an agent process's RSS grows > 10%

options:
  --repeats <n>      runs per figure, each figure is their median (default 3)
  --workers <n>      worker processes of the default mesh (default 2)
  --quick            shorter windows and samples: checks that everything runs (not for figures)
  --web-url <url>    Pulsar web service (default $PULSAR_WEB_URL or http://127.0.0.1:8080)
  --service-url <u>  Pulsar binary endpoint for the native driver (default $PULSAR_SERVICE_URL or pulsar://127.0.0.1:6650)
  --redis-url <url>  Redis (default $REDIS_URL or redis://127.0.0.1:6379)
  --no-docs          do not rewrite docs/benchmarks.md (full run)
  hop:    --n <count> (default 400 per repeat), --warmup <count> (200), --block <count> (100), --gap-ms <ms> (0)
  bus:    --messages <count> (200000), --window <count> (1000)
  market: --orders <count> (200000)
  soak:   --minutes <n> (default 2)

Profile an agent role: BENCH_CPU_PROF=$PWD/tmp/prof npm run bench -- fanout  (one .cpuprofile per
process), then: node -r @swc-node/register bench/src/prof.ts tmp/prof/<file>.cpuprofile
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

function number(args: readonly string[], name: string, fallback: number): number {
  const text = flag(args, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${text}"`);
  return value;
}

const RESULTS = join(__dirname, '..', 'results');
const DOCS = join(WORKSPACE, 'docs', 'benchmarks.md');

let active: BenchContext | undefined;

async function runPart(part: Part, ctx: BenchContext, args: readonly string[], all: boolean): Promise<void> {
  const { report } = ctx;
  const quick = ctx.options.quick;
  switch (part) {
    case 'market':
      await runMarket(report, {
        orders: count(args, '--orders', quick ? 50_000 : 200_000),
        repeats: ctx.options.repeats,
      });
      return runMarketMesh(ctx);
    case 'bus':
      return runBus(report, {
        messages: count(args, '--messages', quick ? 50_000 : 200_000),
        window: count(args, '--window', 1000),
        repeats: ctx.options.repeats,
      });
    case 'hop':
      return runHop(report, {
        n: count(args, '--n', quick ? 100 : 400),
        warmup: count(args, '--warmup', quick ? 50 : 200, 0),
        block: count(args, '--block', 100),
        gapMs: count(args, '--gap-ms', 0, 0),
        repeats: ctx.options.repeats,
        webUrl: ctx.env.webUrl,
        serviceUrl:
          (flag(args, '--service-url') ?? process.env['PULSAR_SERVICE_URL'] ?? 'pulsar://127.0.0.1:6650').trim() ||
          'pulsar://127.0.0.1:6650',
      });
    case 'chain':
      return runChain(ctx);
    case 'fanout':
      await runFanOut(ctx);
      // alone: the lean deployment right after; in a full run it comes after the saga part
      if (!all) await runFanOutLean(ctx);
      return;
    case 'memory':
      return runMemory(ctx);
    case 'saga':
      return runSaga(ctx);
    case 'peer':
      if (!all && (await ctx.pulsarProblem()) === undefined) await runFanOut(ctx, { memory: false, curves: false });
      return runPeer(ctx);
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const first = argv[0];
  if (first === '--help' || first === 'help' || first === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  // The parts named before the first option, run in that order (none: every part).
  const firstOption = argv.findIndex((arg) => arg.startsWith('--'));
  const named = argv.slice(0, firstOption < 0 ? argv.length : firstOption);
  const args = argv.slice(named.length);
  const unknown = named.find(
    (part) => !(PARTS as readonly string[]).includes(part) && !(part === 'soak' && named.length === 1),
  );
  if (unknown !== undefined) {
    process.stderr.write(`unknown part "${unknown}"${unknown === 'soak' ? ' (soak runs on its own)' : ''}\n\n${USAGE}`);
    return 2;
  }
  const options: CommonOptions = {
    repeats: count(args, '--repeats', 3),
    quick: args.includes('--quick'),
    workers: count(args, '--workers', 2),
  };
  const env = {
    webUrl: (flag(args, '--web-url') ?? process.env['PULSAR_WEB_URL'] ?? 'http://127.0.0.1:8080').replace(/\/$/, ''),
    redisUrl: flag(args, '--redis-url') ?? (process.env['REDIS_URL'] || 'redis://127.0.0.1:6379'),
    run: newRunId(),
  };
  const all = named.length === 0;
  const parts: readonly string[] = all ? PARTS : named;
  const report = new Report(parts);
  const ctx = new BenchContext(env, report, options);
  active = ctx;
  const m = report.machine;
  process.stdout.write(
    `bench run ${env.run}: ${parts.join(', ')}${options.quick ? ' (quick)' : ''}; ${options.repeats} runs per figure\n` +
      `machine: ${m.cores} cores, ${m.cpuModel}, ${m.memoryGiB} GiB, node ${m.node}, load ${m.loadAtStart}\n`,
  );

  let failures = 0;
  try {
    if (parts[0] === 'soak') {
      return await runSoak(ctx, { minutes: number(args, '--minutes', 2), resultsDir: RESULTS });
    }
    for (const part of parts as readonly Part[]) {
      const started = Date.now();
      try {
        await runPart(part, ctx, args, all);
        if (all && part === 'saga') await runFanOutLean(ctx); // after the saga: it stops the saga coordinator
      } catch (error) {
        failures++;
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        process.stderr.write(`\n${part} failed: ${message}\n`);
        report.note(`${part} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      process.stdout.write(`(${part}: ${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
    }
  } finally {
    await ctx.close();
    active = undefined;
  }
  report.finish();
  process.stdout.write('\n');
  if (!all) {
    report.writeJson(join(RESULTS, `${parts.join('-')}.json`));
  } else {
    report.writeJson(join(RESULTS, 'latest.json'));
    if (!args.includes('--no-docs')) report.writeMarkdown(DOCS);
  }
  for (const { target, value, holds } of report.targets()) {
    if (value === undefined) continue;
    process.stdout.write(`target ${target.text}: ${value} -> ${holds ? 'holds' : 'MISSED'}\n`);
  }
  return failures > 0 ? 1 : 0;
}

function shutdown(signal: NodeJS.Signals): void {
  process.stderr.write(`\n${signal}: stopping the benchmark's processes\n`);
  const ctx = active;
  active = undefined;
  void (ctx ? ctx.close() : Promise.resolve()).finally(() => process.exit(130));
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    void (active ? active.close() : Promise.resolve()).finally(() => process.exit(1));
  },
);
