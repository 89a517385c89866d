/**
 * Summarises V8 CPU profiles (`node --cpu-prof`): self time by function and by where the code
 * lives (a package in node_modules, a lib of this repo, Node internals, GC, idle), and the
 * inclusive time of the repo's own functions. Used to write docs/benchmarks.md.
 *
 *   node -r @swc-node/register bench/src/prof.ts tmp/prof/*.cpuprofile [--top 30] [--match text]
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: number[];
}

interface CpuProfile {
  readonly nodes: ProfileNode[];
  readonly samples: number[];
  readonly timeDeltas: number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Self time of functions matching `callersOf`, by the chain of their callers (up to 4 frames). */
  readonly callers: [string, number][];
  readonly selfByFunction: [string, number][];
  readonly selfByArea: [string, number][];
  readonly inclusiveByFunction: [string, number][];
}

function area(url: string, name: string): string {
  if (name === '(garbage collector)') return '(gc)';
  if (name === '(idle)') return '(idle)';
  if (name === '(program)') return '(program)';
  if (!url) return '(native/vm)';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const libs = /\/(libs\/(?:agents\/)?[^/]+)\//.exec(url);
  if (libs) return libs[1];
  const apps = /\/(apps\/[^/]+|bench)\//.exec(url);
  if (apps) return apps[1];
  return url;
}

function label(frame: CallFrame): string {
  const file = frame.url.replace(/^.*\/(node_modules|libs|apps|bench)\//, '$1/').replace(/^file:\/\//, '');
  return `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
}

export function summarizeProfile(profile: CpuProfile, callersOf?: string): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const selfByFunction = new Map<string, number>();
  const selfByArea = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const callers = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const name = label(node.callFrame);
    if (callersOf && name.includes(callersOf)) {
      const chain: string[] = [];
      for (let at = parent.get(id); at !== undefined && chain.length < 12; at = parent.get(at)) {
        const frame = byId.get(at)?.callFrame;
        if (frame) chain.push(label(frame));
      }
      const key = chain.join(' < ');
      callers.set(key, (callers.get(key) ?? 0) + us);
    }
    selfByFunction.set(name, (selfByFunction.get(name) ?? 0) + us);
    const where = area(node.callFrame.url, node.callFrame.functionName);
    selfByArea.set(where, (selfByArea.get(where) ?? 0) + us);
    // inclusive: every distinct frame on the stack gets the sample once
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (!frame) break;
      const key = label(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const sorted = (map: Map<string, number>): [string, number][] =>
    [...map.entries()].map(([k, v]): [string, number] => [k, v / 1000]).sort((a, b) => b[1] - a[1]);
  return {
    totalMs: (profile.endTime - profile.startTime) / 1000,
    selfByFunction: sorted(selfByFunction),
    selfByArea: sorted(selfByArea),
    inclusiveByFunction: sorted(inclusive),
    callers: sorted(callers),
  };
}

function main(argv: readonly string[]): void {
  const files = argv.filter((a, i) => !a.startsWith('--') && !(i > 0 && argv[i - 1].startsWith('--')));
  const topAt = argv.indexOf('--top');
  const top = topAt >= 0 ? Number(argv[topAt + 1]) : 25;
  const matchAt = argv.indexOf('--match');
  const match = matchAt >= 0 ? argv[matchAt + 1] : '/libs/';
  const callersAt = argv.indexOf('--callers');
  const callersOf = callersAt >= 0 ? argv[callersAt + 1] : undefined;
  for (const file of files) {
    const summary = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, callersOf);
    if (callersOf) {
      process.stdout.write(`\n== ${file}: callers of "${callersOf}"\n`);
      for (const [k, v] of summary.callers.slice(0, top))
        process.stdout.write(`${v.toFixed(0).padStart(8)} ms  ${k}\n`);
      continue;
    }
    const busy = summary.selfByArea.filter(([k]) => k !== '(idle)').reduce((s, [, v]) => s + v, 0);
    const pct = (ms: number) => `${((100 * ms) / summary.totalMs).toFixed(1)}%`;
    process.stdout.write(
      `\n== ${file}: ${summary.totalMs.toFixed(0)} ms wall, ${busy.toFixed(0)} ms busy (${pct(busy)})\n`,
    );
    process.stdout.write('-- self time by area\n');
    for (const [k, v] of summary.selfByArea.slice(0, top))
      process.stdout.write(`${v.toFixed(0).padStart(8)} ms ${pct(v).padStart(6)}  ${k}\n`);
    process.stdout.write('-- self time by function\n');
    for (const [k, v] of summary.selfByFunction.slice(0, top))
      process.stdout.write(`${v.toFixed(0).padStart(8)} ms ${pct(v).padStart(6)}  ${k}\n`);
    process.stdout.write(`-- inclusive time, functions matching "${match}"\n`);
    for (const [k, v] of summary.inclusiveByFunction
      .filter(([k]) => k.includes(match.replace(/^\//, '').replace(/\/$/, '')))
      .slice(0, top)) {
      process.stdout.write(`${v.toFixed(0).padStart(8)} ms ${pct(v).padStart(6)}  ${k}\n`);
    }
  }
}

if (require.main === module) main(process.argv.slice(2));
