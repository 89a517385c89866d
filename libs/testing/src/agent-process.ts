import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const WORKSPACE = join(__dirname, '../../..');

/** A free TCP port on loopback, for an agent's HTTP server. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** An agent app running as its own OS process, from its build in dist/. */
export interface SpawnedAgent {
  readonly app: string;
  readonly url: string;
  readonly process: ChildProcess;
  /** Everything the process printed so far (for failure messages). */
  output(): string;
  /** SIGTERM, then wait for the exit code (graceful shutdown drains in-flight messages). */
  stop(timeoutMs?: number): Promise<number | null>;
  kill(): void;
}

export function builtMain(app: string): string {
  return join(WORKSPACE, 'dist', app, 'apps', app, 'src', 'main.js');
}

/** Starts `dist/<app>` with the given environment and waits until its /health answers 200. */
export async function spawnAgent(
  app: string,
  env: Record<string, string>,
  startTimeoutMs = 30_000,
): Promise<SpawnedAgent> {
  const main = builtMain(app);
  if (!existsSync(main)) throw new Error(`${main} is missing: build it with \`npx nx build ${app}\``);
  const port = await freePort();
  const child = spawn(process.execPath, [main], {
    cwd: WORKSPACE,
    env: { ...process.env, ...env, PORT: String(port), NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const agent: SpawnedAgent = {
    app,
    url,
    process: child,
    output: () => output,
    stop: async (timeoutMs = 45_000) => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`${app} exited with ${child.exitCode} before it was healthy:\n${output}`);
    try {
      const response = await fetch(`${url}/health`);
      if (response.ok) return agent;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      agent.kill();
      throw new Error(`${app} was not healthy within ${startTimeoutMs} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
