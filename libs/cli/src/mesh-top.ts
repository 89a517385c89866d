import type { AgentHeartbeat, BrokerStats, SubscriptionStats } from '@agent-mesh/contracts';
import type { Styles } from './live-view';
import { clock } from './workflow-format';

/** An agent not heard from for this many of its heartbeat periods is shown as silent. */
const SILENT_AFTER_PERIODS = 3;
/** The period assumed before two heartbeats of an agent showed it. */
const DEFAULT_PERIOD_MS = 10_000;

interface AgentRow {
  readonly last: AgentHeartbeat;
  /** Messages handled per second between its last two heartbeats. */
  readonly rate?: number;
  /** Time between its last two heartbeats. */
  readonly periodMs?: number;
}

/**
 * What `mesh top` knows: the last heartbeat of every agent (`mesh.agents`) and the last broker
 * figures (`mesh.stats`); `lines()` draws it. Rates come from consecutive heartbeats' counters.
 */
export class MeshTop {
  private readonly agents = new Map<string, AgentRow>();
  private stats?: BrokerStats;

  heartbeat(beat: AgentHeartbeat): void {
    const before = this.agents.get(beat.agentId)?.last;
    const periodMs = before ? Date.parse(beat.at) - Date.parse(before.at) : undefined;
    const sameProcess = before && before.startedAt === beat.startedAt && before.pid === beat.pid;
    const rate =
      sameProcess && periodMs && periodMs > 0
        ? Math.max(0, (beat.counters.handled - before.counters.handled) / (periodMs / 1000))
        : undefined;
    this.agents.set(beat.agentId, { last: beat, rate, periodMs: periodMs && periodMs > 0 ? periodMs : undefined });
  }

  brokerStats(stats: BrokerStats): void {
    this.stats = stats;
  }

  get agentCount(): number {
    return this.agents.size;
  }

  /**
   * The view. `live` (a terminal, redrawn in place): a header with the time and how long ago each
   * agent was heard from. Not live: only what changes with a heartbeat or stats, so that printing
   * the lines that changed gives one line per change. `maxRows`: the terminal's height (a
   * block taller than the screen cannot be redrawn in place).
   */
  lines(s: Styles, live: boolean, now = Date.now(), maxRows?: number): string[] {
    const rows = [...this.agents.values()].sort((a, b) =>
      a.last.role === b.last.role
        ? a.last.agentId.localeCompare(b.last.agentId)
        : a.last.role.localeCompare(b.last.role),
    );
    const silent = rows.filter((row) => this.isSilent(row, now));
    const throughput = rows.filter((row) => !silent.includes(row)).reduce((sum, row) => sum + (row.rate ?? 0), 0);
    const lines: string[] = [];
    if (live) {
      lines.push(
        `${s.bold('mesh top')}  ${clock(now)}  agents ${rows.length - silent.length}` +
          (silent.length > 0 ? s.red(` (${silent.length} silent)`) : '') +
          `  handled ${rate(throughput)}/s` +
          (this.stats ? `  dead letters ${this.stats.deadLetters}` : ''),
      );
      lines.push(
        s.dim(
          `${pad('AGENT', 28)} ${pad('ROLE', 17)} ${pad('REGION', 9)} ${left('HANDLED', 9)} ${left('/S', 7)} ` +
            `${left('FAILED', 7)} ${left('DLQ', 5)} ${left('IN-FLIGHT', 9)}  UP / SEEN`,
        ),
      );
    }
    if (rows.length === 0) lines.push(s.dim('waiting for heartbeats on mesh.agents…'));
    for (const row of rows) {
      const { last } = row;
      const c = last.counters;
      const quiet = silent.includes(row);
      const figures =
        `${left(String(c.handled), 9)} ${left(row.rate === undefined ? '-' : rate(row.rate), 7)} ` +
        `${left(String(c.failed), 7)} ${left(String(c.deadLettered), 5)} ${left(String(c.inFlight), 9)}`;
      const name = `${pad(last.agentId, 28)} ${pad(last.role, 17)} ${pad(last.region, 9)}`;
      if (live) {
        const seen = `${duration(now - Date.parse(last.startedAt))} / ${duration(now - Date.parse(last.at))} ago`;
        lines.push(`${quiet ? s.red(name) : name} ${figures}  ${quiet ? s.red(`${seen} SILENT`) : s.dim(seen)}`);
      } else {
        lines.push(`agent ${name} ${figures}${last.skills?.length ? `  skills ${last.skills.join(',')}` : ''}`);
      }
    }
    if (this.stats) {
      if (live) {
        lines.push(
          s.dim(`${pad('BACKLOG', 46)} ${left('MESSAGES', 9)} ${left('OUT/S', 7)} ${left('CONSUMERS', 9)}`) +
            s.dim(`  (${this.stats.broker}, ${clock(this.stats.at)})`),
        );
      }
      const subscriptions = this.stats.subscriptions
        .filter(worthShowing)
        .sort((a, b) => b.backlog - a.backlog || a.topic.localeCompare(b.topic));
      for (const sub of subscriptions) {
        const where = pad(`${sub.topic} (${sub.subscription})`, 46);
        const figures = `${left(String(sub.backlog), 9)} ${left(rate(sub.msgRateOut), 7)} ${left(String(sub.consumers ?? '-'), 9)}`;
        const line = `${live ? '' : 'backlog '}${where} ${figures}`;
        lines.push(sub.backlog > 0 && live ? s.yellow(line) : line);
      }
      const hidden = this.stats.subscriptions.length - subscriptions.length;
      if (live && hidden > 0) lines.push(s.dim(`(${hidden} more subscriptions, none with a backlog)`));
      if (!live) lines.push(`dead letters ${this.stats.deadLetters}`);
    }
    return maxRows !== undefined && lines.length > maxRows
      ? [
          ...lines.slice(0, Math.max(1, maxRows - 1)),
          s.dim(`… ${lines.length - maxRows + 1} more lines (a taller terminal shows them)`),
        ]
      : lines;
  }

  private isSilent(row: AgentRow, now: number): boolean {
    return now - Date.parse(row.last.at) > SILENT_AFTER_PERIODS * (row.periodMs ?? DEFAULT_PERIOD_MS);
  }
}

/**
 * The subscriptions worth a row: the workers' (`tasks.<skill>`), and any other with a backlog;
 * the many others (retry topics, coordinators' own) only when something waits on them.
 */
function worthShowing(sub: SubscriptionStats): boolean {
  return sub.backlog > 0 || (sub.topic.startsWith('tasks.') && !/-(RETRY|DLQ)$/.test(sub.topic));
}

function rate(perSecond: number): string {
  return perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toFixed(1);
}

function duration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function left(text: string, width: number): string {
  return text.padStart(width);
}
