/**
 * memory: resident memory (VmRSS) of each agent process of the Pulsar mesh, at idle (right
 * after start-up, before any work) and after the fan-out runs, beside a bare `node` process
 * measured in the same run.
 *
 * soak (`npm run bench -- soak --minutes N`): the Pulsar mesh under a steady fan-out load
 * (5 workflows in flight) for N minutes; RSS of every process sampled every 5 s. Start = the
 * median of the first three samples after a warm-up (a fifth of the run, at most a minute: JIT,
 * connection pools and heap sizing are not leaks), end = the median of the last three. Fails
 * (exit code 1) if any process grew by more than 10%.
 */
import { join } from 'node:path';
import { bareNodeRssMiB } from './agents';
import type { BenchContext } from './context';
import { closedLoop, fanOutBody } from './driver';
import { runFanOut } from './fanout';
import type { PulsarMeshSession } from './meshes';
import { median } from './stats';

interface RssSample {
  readonly instance: string;
  readonly app: string;
  readonly rssMiB: number;
}

/** Median RSS per process over three samples 200 ms apart. */
export async function sampleRss(session: PulsarMeshSession): Promise<RssSample[]> {
  const rounds: RssSample[][] = [];
  for (let i = 0; i < 3; i++) {
    rounds.push(session.rss());
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return rounds[0].map((s) => ({
    ...s,
    rssMiB: median(rounds.map((r) => r.find((x) => x.instance === s.instance)?.rssMiB ?? Number.NaN)),
  }));
}

/** Per role: the median over that role's processes (workers are several). */
function byRole(samples: readonly RssSample[]): Map<string, number> {
  const roles = new Map<string, number[]>();
  for (const s of samples) roles.set(s.app, [...(roles.get(s.app) ?? []), s.rssMiB]);
  return new Map([...roles].map(([app, values]) => [app, median(values)]));
}

export async function runMemory(ctx: BenchContext): Promise<void> {
  const { report } = ctx;
  process.stdout.write(`\nmemory: RSS of each agent process of the Pulsar mesh, idle and after the fan-out runs\n`);
  const bare: number[] = [];
  for (let r = 0; r < ctx.options.repeats; r++) bare.push(await bareNodeRssMiB());
  report.addMedian('memory', 'memory.node.rss', bare, 'MiB', { label: 'a bare `node` process, idle (baseline)' });

  const pulsar = await ctx.pulsar('memory');
  if (!pulsar) return;
  if (!ctx.afterFanOutRss) await runFanOut(ctx, { memory: false, curves: false });
  const idle = byRole(ctx.idleRss ?? []);
  const after = byRole(ctx.afterFanOutRss ?? (await sampleRss(pulsar)));
  for (const [app, rss] of idle) {
    report.add('memory', `memory.${app}.idle.rss`, rss, 'MiB', {
      label: `${app} process at idle`,
      baseline: 'memory.node.rss',
    });
    const later = after.get(app);
    if (later !== undefined)
      report.add('memory', `memory.${app}.after.rss`, later, 'MiB', { label: `${app} process after the fan-out runs` });
  }
}

export interface SoakOptions {
  readonly minutes: number;
  readonly resultsDir: string;
}

/** Returns the exit code: 1 if a process grew by more than 10%. */
export async function runSoak(ctx: BenchContext, options: SoakOptions): Promise<number> {
  const report = ctx.report;
  const totalMs = Math.round(options.minutes * 60_000);
  const warmupMs = Math.min(60_000, Math.round(totalMs / 5));
  process.stdout.write(
    `\nsoak: ${options.minutes} min of fan-out load (5 in flight) on the Pulsar mesh; RSS every 5 s after ${warmupMs / 1000} s warm-up\n`,
  );
  const pulsar = await ctx.pulsar('soak');
  if (!pulsar) return 0;
  const samples: { at: number; rss: RssSample[] }[] = [];
  const started = Date.now();
  let stop = false;
  const sampler = (async () => {
    while (!stop) {
      await new Promise((resolve) => setTimeout(resolve, 5000));
      if (stop) break;
      const elapsed = Date.now() - started;
      const rss = pulsar.rss();
      if (elapsed >= warmupMs) samples.push({ at: elapsed, rss });
      process.stdout.write(
        `  ${(elapsed / 1000).toFixed(0)} s: ${rss.map((r) => `${r.instance.split('-')[0]} ${r.rssMiB.toFixed(0)}`).join(', ')} MiB\n`,
      );
    }
  })();
  const load = await closedLoop(pulsar, {
    concurrency: 5,
    warmupMs,
    durationMs: totalMs - warmupMs,
    timeoutMs: 120_000,
    body: (n) => fanOutBody(10, n),
  });
  stop = true;
  await sampler;
  report.add('soak', 'soak.minutes', options.minutes, 'min');
  report.add('soak', 'soak.wfps', load.perSecond, 'workflows/s', {
    label: 'fan-out throughput during the soak (5 in flight)',
  });
  report.add('soak', 'soak.failed', load.failed, 'workflows');
  if (samples.length < 6) {
    report.note(`soak: only ${samples.length} RSS samples after the warm-up; run longer (--minutes)`);
  }
  let worst = 0;
  for (const first of samples[0]?.rss ?? []) {
    const series = samples.map((s) => s.rss.find((r) => r.instance === first.instance)?.rssMiB ?? Number.NaN);
    const start = median(series.slice(0, 3));
    const end = median(series.slice(-3));
    const growth = (end / start - 1) * 100;
    worst = Math.max(worst, growth);
    const name = first.instance.replace(`-${ctx.env.run}`, '');
    report.add('soak', `soak.${name}.start.rss`, start, 'MiB', { label: `${first.app} at the start (after warm-up)` });
    report.add('soak', `soak.${name}.end.rss`, end, 'MiB', { label: `${first.app} at the end` });
    report.add('soak', `soak.${name}.growth`, growth, '%', { label: `${first.app} growth, start → end` });
  }
  report.add('soak', 'soak.worst.growth', worst, '%', { label: 'largest growth of any process (fails above 10%)' });
  const failed = worst > 10;
  process.stdout.write(`soak: largest RSS growth ${worst.toFixed(1)}% -> ${failed ? 'FAIL (> 10%)' : 'ok'}\n`);
  report.finish();
  report.writeJson(join(options.resultsDir, 'soak.json'));
  return failed ? 1 : 0;
}
