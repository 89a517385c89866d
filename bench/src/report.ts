/**
 * What a benchmark run produces: figures (`{ name, value, unit }`), each a median over repeated
 * runs, with the baseline measured in the same run beside it; parts that could not run are
 * listed with the reason. Written as JSON (bench/results/*.json) and as the markdown table of
 * docs/benchmarks.md (between the generated-table markers; the rest of that file is prose).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, relative } from 'node:path';
import { median } from './stats';

export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
}

export interface Machine {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  /** 1-minute load average when the run started and ended (other work on the machine). */
  readonly loadAtStart: number;
  loadAtEnd?: number;
  readonly startedAt: string;
  durationSeconds?: number;
}

export function machine(): Machine {
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadAtStart: round(loadavg()[0], 2),
    startedAt: new Date().toISOString(),
  };
}

export interface Target {
  /** The figure the target is about. */
  readonly figure: string;
  readonly op: '<=' | '>=';
  readonly value: number;
  readonly text: string;
}

/** The targets of the benchmark issue (benchmark figures, not timed tests). */
export const TARGETS: readonly Target[] = [
  { figure: 'hop.ratio.p50', op: '<=', value: 1.2, text: 'mesh/raw hop p50 ≤ 1.2' },
  { figure: 'chain3.pulsar.p50', op: '<=', value: 20, text: 'chain-3 p50 ≤ 20 ms on Pulsar' },
  { figure: 'fanout.pulsar.wfps', op: '>=', value: 100, text: 'fan-out on Pulsar ≥ 100 workflows/s' },
  { figure: 'peer.bullmq.ratio', op: '>=', value: 1.5, text: 'mesh/BullMQ fan-out throughput ≥ 1.5' },
  { figure: 'bus.memory.eps', op: '>=', value: 100_000, text: 'memory bus ≥ 100,000 events/s' },
];

/** One row of the markdown table: a figure and what to read it against. */
interface Row {
  readonly part: string;
  readonly name: string;
  readonly label: string;
  /** Name of the figure measured in the same run to read this one against. */
  readonly baseline?: string;
  /** Per-repeat values the median was taken over. */
  readonly runs?: readonly number[];
}

export interface Skip {
  readonly part: string;
  readonly reason: string;
}

export interface AddOptions {
  readonly label?: string;
  readonly baseline?: string;
  /** Every repeat's value; the figure's value is their median. */
  readonly runs?: readonly number[];
  /** Decimal places kept (default: 3 significant-ish, see `tidy`). */
  readonly digits?: number;
}

/** Rounds to `digits` decimals. */
export function round(value: number, digits: number): number {
  if (!Number.isFinite(value)) return value;
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function tidy(value: number): number {
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return Math.round(value);
  if (magnitude >= 100) return round(value, 1);
  if (magnitude >= 1) return round(value, 2);
  return round(value, 4);
}

export class Report {
  readonly machine = machine();
  readonly figures: Figure[] = [];
  readonly skipped: Skip[] = [];
  readonly notes: string[] = [];
  private readonly rows: Row[] = [];
  private readonly started = Date.now();

  constructor(readonly parts: readonly string[]) {}

  /** Adds a figure (replacing one of the same name). */
  add(part: string, name: string, value: number, unit: string, options: AddOptions = {}): number {
    const v = options.digits !== undefined ? round(value, options.digits) : tidy(value);
    const at = this.figures.findIndex((f) => f.name === name);
    if (at >= 0) this.figures.splice(at, 1);
    this.figures.push({ name, value: v, unit });
    const rowAt = this.rows.findIndex((r) => r.name === name);
    if (rowAt >= 0) this.rows.splice(rowAt, 1);
    this.rows.push({ part, name, label: options.label ?? name, baseline: options.baseline, runs: options.runs });
    process.stdout.write(
      `  ${name} = ${v} ${unit}${options.runs && options.runs.length > 1 ? `  (runs: ${options.runs.map((r) => tidy(r)).join(', ')})` : ''}\n`,
    );
    return v;
  }

  /** Adds the median of `runs` as a figure. */
  addMedian(
    part: string,
    name: string,
    runs: readonly number[],
    unit: string,
    options: Omit<AddOptions, 'runs'> = {},
  ): number {
    return this.add(part, name, median(runs), unit, { ...options, runs });
  }

  get(name: string): number | undefined {
    return this.figures.find((f) => f.name === name)?.value;
  }

  skip(part: string, reason: string): void {
    this.skipped.push({ part, reason });
    process.stdout.write(`  SKIPPED ${part}: ${reason}\n`);
  }

  note(text: string): void {
    this.notes.push(text);
  }

  /** Targets with the run's figure and whether it holds (undefined: not measured). */
  targets(): { target: Target; value?: number; holds?: boolean }[] {
    return TARGETS.map((target) => {
      const value = this.get(target.figure);
      if (value === undefined || !Number.isFinite(value)) return { target };
      return { target, value, holds: target.op === '<=' ? value <= target.value : value >= target.value };
    });
  }

  finish(): void {
    this.machine.loadAtEnd = round(loadavg()[0], 2);
    this.machine.durationSeconds = Math.round((Date.now() - this.started) / 1000);
  }

  toJson(): string {
    const body = {
      machine: this.machine,
      figures: this.figures,
      targets: this.targets().map(({ target, value, holds }) => ({
        figure: target.figure,
        target: `${target.op} ${target.value}`,
        value,
        holds,
      })),
      baselines: Object.fromEntries(this.rows.filter((r) => r.baseline).map((r) => [r.name, r.baseline])),
      skipped: this.skipped,
      notes: this.notes,
    };
    return `${JSON.stringify(body, null, 2)}\n`;
  }

  writeJson(file: string): void {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, this.toJson());
    process.stdout.write(`wrote ${relative(process.cwd(), file)}\n`);
  }

  /** The generated part of docs/benchmarks.md. */
  markdown(): string {
    const m = this.machine;
    const lines: string[] = [];
    lines.push(
      `Run of ${m.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${m.durationSeconds ?? '?'} s: ${m.cores} cores (${m.cpuModel}), ` +
        `${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}; load average ${m.loadAtStart} at the start, ${m.loadAtEnd ?? '?'} at the end. ` +
        `Parts: ${this.parts.join(', ')}.`,
      '',
      '| figure | value | unit | runs | baseline (same run) |',
      '| --- | ---: | --- | --- | --- |',
    );
    for (const row of this.rows) {
      const figure = this.figures.find((f) => f.name === row.name);
      if (!figure) continue;
      const base = row.baseline ? this.figures.find((f) => f.name === row.baseline) : undefined;
      const runs = row.runs && row.runs.length > 1 ? row.runs.map((r) => String(tidy(r))).join(' · ') : '';
      const label = row.label === row.name ? `\`${row.name}\`` : `\`${row.name}\` ${row.label}`;
      lines.push(
        `| ${label} | ${fmt(figure.value)} | ${figure.unit} | ${runs} | ${base ? `\`${base.name}\` = ${fmt(base.value)} ${base.unit}` : ''} |`,
      );
    }
    lines.push('', '| target | figure | this run | holds |', '| --- | --- | ---: | --- |');
    for (const { target, value, holds } of this.targets()) {
      lines.push(
        `| ${target.text} | \`${target.figure}\` | ${value === undefined ? 'not measured' : fmt(value)} | ${holds === undefined ? '–' : holds ? 'yes' : '**no**'} |`,
      );
    }
    if (this.skipped.length > 0) {
      lines.push('', 'Skipped:', '');
      for (const s of this.skipped) lines.push(`- ${s.part}: ${s.reason}`);
    }
    if (this.notes.length > 0) {
      lines.push('', 'Notes of the run:', '');
      for (const n of this.notes) lines.push(`- ${n}`);
    }
    return lines.join('\n');
  }

  /** Replaces the generated table in `file` (between the markers), keeping everything else. */
  writeMarkdown(file: string): void {
    const start = '<!-- bench:generated:start -->';
    const end = '<!-- bench:generated:end -->';
    const generated = `${start}\n${this.markdown()}\n${end}`;
    const current = existsSync(file) ? readFileSync(file, 'utf8') : `# Benchmarks\n\n${start}\n${end}\n`;
    const from = current.indexOf(start);
    const to = current.indexOf(end);
    const next =
      from >= 0 && to > from
        ? `${current.slice(0, from)}${generated}${current.slice(to + end.length)}`
        : `${current.trimEnd()}\n\n${generated}\n`;
    writeFileSync(file, next);
    process.stdout.write(`wrote ${relative(process.cwd(), file)}\n`);
  }
}

function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 10_000 ? value.toLocaleString('en-US') : String(value);
}
