import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A redis-server of the suite's own on its own port (the shared one on :6379 must never be
 * restarted). Append-only file with fsync on every write, in a temporary dir: a restart — a
 * SIGKILL and a start on the same dir — keeps every acknowledged write, so the fault is "Redis
 * unavailable for a while", not "Redis lost its state" (a different fault: a rebuild from the log).
 */
export class OwnRedis {
  private dir?: string;
  private child?: ChildProcess;
  restarts = 0;

  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (await answers(this.port))
      throw new Error(`port ${this.port} is taken: a redis-server left over from an earlier run?`);
    this.dir ??= await mkdtemp(join(tmpdir(), 'agentmesh-faults-redis-'));
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    const deadline = Date.now() + 20_000;
    while (!(await answers(this.port))) {
      if (child.exitCode !== null) throw new Error(`redis-server on :${this.port} exited with ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error(`redis-server on :${this.port} did not answer within 20 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** SIGKILL, then a start on the same data dir. Returns how long Redis was away. */
  async restart(downMs = 1_000): Promise<number> {
    const started = Date.now();
    await this.kill();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.start();
    this.restarts++;
    return Date.now() - started;
  }

  async dispose(): Promise<void> {
    await this.kill();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  private async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

/** Whether a Redis answers PING on the port. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk: Buffer) => done(chunk.toString().startsWith('+PONG')));
  });
}
