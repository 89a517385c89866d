/**
 * Agent apps as real OS processes (from the benchmark's own build, see build.ts), and their
 * resident memory. Started as libs/topology's AgentProcess starts them (bench may not import
 * tools), output to a log file (a busy agent logs a line per workflow; a pipe the parent must
 * drain would add to what is measured), with the profiling flags the benchmark adds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '@agent-mesh/testing';
import { builtAgentMain, WORKSPACE, type AgentApp } from './build';

export const LOG_DIR = join(WORKSPACE, 'tmp', 'bench-logs');

export interface AgentHandle {
  readonly app: AgentApp;
  readonly instance: string;
  readonly url: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resident set size now, in MiB (VmRSS of /proc/<pid>/status). */
  rssMiB(): number;
  /** The tail of what the process printed, for error messages. */
  tail(lines?: number): string;
  /** SIGTERM (graceful drain), SIGKILL after `timeoutMs`; resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
}

/** VmRSS of a process in MiB, or NaN when it is gone. */
export function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function tailOf(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function waitExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Starts `app` with `env` and waits until its /health answers 200. */
export async function startAgent(
  app: AgentApp,
  instance: string,
  env: Record<string, string>,
  startTimeoutMs = 60_000,
): Promise<AgentHandle> {
  mkdirSync(LOG_DIR, { recursive: true });
  const port = await freePort();
  const logFile = join(LOG_DIR, `${instance}.log`);
  const fd = openSync(logFile, 'w');
  // BENCH_CPU_PROF=<dir>: every agent process writes a V8 CPU profile there when it exits.
  const profileDir = process.env['BENCH_CPU_PROF'];
  // BENCH_NODE_ARGS: extra node flags for every agent process (e.g. --trace-gc; NODE_OPTIONS refuses some).
  const extraArgs = (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const nodeArgs = [
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${instance}.cpuprofile`] : []),
    ...extraArgs,
  ];
  const child = spawn(process.execPath, [...nodeArgs, builtAgentMain(app)], {
    cwd: WORKSPACE,
    env: { ...process.env, ...env, MESH_INSTANCE_ID: instance, PORT: String(port), NO_COLOR: '1' },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${app}: spawn failed`);
  const exited = waitExit(child);
  const url = `http://127.0.0.1:${port}`;
  const handle: AgentHandle = {
    app,
    instance,
    url,
    pid,
    logFile,
    rssMiB: () => rssOf(pid),
    tail: (lines = 30) => tailOf(logFile, lines),
    stop: async (timeoutMs = 20_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`${instance} exited with ${child.exitCode} before it was healthy:\n${handle.tail()}`);
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return handle;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${instance} was not healthy within ${startTimeoutMs} ms:\n${handle.tail()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** RSS of a bare `node` process idling, the floor every agent process starts from. */
export async function bareNodeRssMiB(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => undefined, 1000)'], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 700));
  const rss = child.pid !== undefined ? rssOf(child.pid) : Number.NaN;
  child.kill('SIGKILL');
  await waitExit(child);
  return rss;
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux (getconf CLK_TCK)

/** CPU time (user + system) a process has used so far, in ms; NaN when it is gone. */
export function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command may contain spaces and parentheses: fields start after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/**
 * The process listening on a TCP port of this machine (e.g. the broker, Redis), found through
 * /proc/net/tcp and the socket inodes in /proc/<pid>/fd; undefined if not visible.
 */
export function pidListeningOn(port: number): number | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      if (cols[1].endsWith(`:${hexPort}`) && cols[3] === '0A') inodes.add(cols[9]); // 0A = LISTEN
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        const match = /^socket:\[(\d+)\]$/.exec(target);
        if (match && inodes.has(match[1])) return Number(entry);
      } catch {
        // fd closed meanwhile
      }
    }
  }
  return undefined;
}
