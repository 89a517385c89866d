import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

/** The `mesh` CLI's entry point, as `npx mesh` runs it. */
export const MESH_BIN = resolve(__dirname, '../../../../apps/cli/bin/mesh.js');

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `mesh <args>` as its own process, stdout and stderr pipes (not a terminal), and waits for it to exit. */
export function runMeshProcess(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  options: { stdin?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  const child = startMeshProcess(args, env);
  child.stdin?.end(options.stdin ?? '');
  return finished(child, options.timeoutMs ?? 60_000);
}

/** A `mesh` process that keeps running (tail, top): its output so far, and a way to stop it with a signal. */
export class FollowingMeshProcess {
  private readonly child: ChildProcess;
  private out = '';
  private err = '';
  private readonly done: Promise<CliRun>;

  constructor(args: readonly string[], env: Readonly<Record<string, string>>) {
    this.child = startMeshProcess(args, env);
    this.child.stdout?.on('data', (chunk: Buffer) => (this.out += chunk.toString('utf8')));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.err += chunk.toString('utf8')));
    this.done = finished(this.child, 600_000);
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  /** Sends `signal` (Ctrl-C by default) and waits for the process to exit. */
  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<CliRun> {
    this.child.kill(signal);
    return this.done;
  }
}

function startMeshProcess(args: readonly string[], env: Readonly<Record<string, string>>): ChildProcess {
  return spawn(process.execPath, [MESH_BIN, ...args], {
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

function finished(child: ChildProcess, timeoutMs: number): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mesh did not exit within ${timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    // 'close', not 'exit': by then the pipes have given all the output
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}
