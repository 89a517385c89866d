import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const PULSAR_SCRIPT = resolve(__dirname, '../../../deploy/pulsar/pulsar.sh');

export interface PulsarBrokerFixtureOptions {
  /** Default `restart-test`. */
  readonly clusterName?: string;
  /** Binary protocol port. Default 6671. */
  readonly brokerPort?: number;
  /** Admin REST + WebSocket port. Default 8071. */
  readonly webPort?: number;
  /** Passed as --bookkeeper-port (the standalone's BKCluster may still pick a free one). Default 3172. */
  readonly bookiePort?: number;
  /** Bound on one `pulsar.sh up` / `down`. Default 180 s. */
  readonly commandTimeoutMs?: number;
}

export interface ScriptRun {
  readonly durationMs: number;
  readonly output: string;
}

/** pulsar.sh exited non-zero (or timed out); `output` is what it printed. */
export class ScriptError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(`${message}\n${output}`);
    this.name = 'ScriptError';
  }
}

function isPortInUse(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/**
 * A Pulsar standalone of a test's own (deploy/pulsar/pulsar.sh with other ports and a temporary
 * data dir), for tests that stop or restart the broker: the shared broker on :8080 is used by
 * suites running in parallel and must never be touched. A restart keeps the data dir, so
 * topics, subscriptions, cursors and messages survive it.
 */
export class PulsarBrokerFixture {
  readonly clusterName: string;
  readonly brokerPort: number;
  readonly webPort: number;
  readonly bookiePort: number;
  private readonly commandTimeoutMs: number;
  private dataDir?: string;

  constructor(options: PulsarBrokerFixtureOptions = {}) {
    this.clusterName = options.clusterName ?? 'restart-test';
    this.brokerPort = options.brokerPort ?? 6671;
    this.webPort = options.webPort ?? 8071;
    this.bookiePort = options.bookiePort ?? 3172;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 180_000;
  }

  get webUrl(): string {
    return `http://127.0.0.1:${this.webPort}`;
  }

  /** Creates the data dir and starts the broker (tenant `agentmesh`, namespace `agentmesh/mesh`). */
  async start(): Promise<ScriptRun> {
    if (this.dataDir) throw new Error('PulsarBrokerFixture already started');
    // pulsar.sh would happily "use" a healthy broker it finds on the web port; this fixture must
    // own the broker it restarts, so a taken port is an error.
    for (const port of [this.webPort, this.brokerPort]) {
      if (await isPortInUse(port)) {
        throw new Error(
          `port ${port} is taken: a broker left over from an earlier run? Stop it (pulsar.sh down with its ` +
            `PULSAR_DATA_DIR, or the PulsarStandaloneStarter process on :${port}) before running this test`,
        );
      }
    }
    this.dataDir = await mkdtemp(join(tmpdir(), `agentmesh-${this.clusterName}-`));
    return this.up();
  }

  /**
   * `pulsar.sh up` on the existing data dir. A fresh standalone sometimes answers the tenant
   * PUT of the provisioning step with HTTP 500 (metadata BadVersionException); `up` is
   * idempotent (a running broker is left alone and provisioned again), so that is retried. So is
   * "exited during startup": on a loaded machine pulsar.sh now and then loses sight of a broker
   * that does come up (seen on restarts); the next `up` finds it healthy, or starts one.
   */
  async up(): Promise<ScriptRun> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const run = await this.run('up');
        return { durationMs: Date.now() - started, output: run.output };
      } catch (error) {
        const retryable =
          error instanceof ScriptError &&
          (error.output.includes('provisioning failed') || error.output.includes('exited during startup'));
        if (attempt >= 3 || !retryable) throw error;
        if (error.output.includes('exited during startup')) await new Promise((done) => setTimeout(done, 5_000));
      }
    }
  }

  /**
   * `pulsar.sh down` (SIGTERM, SIGKILL after 30 s); the data dir stays. Fails unless the ports
   * are free afterwards: a restart that silently kept the broker running would prove nothing.
   */
  async down(): Promise<ScriptRun> {
    const run = await this.run('down');
    const deadline = Date.now() + 10_000;
    for (const port of [this.webPort, this.brokerPort]) {
      while (await isPortInUse(port)) {
        if (Date.now() > deadline)
          throw new ScriptError(`pulsar.sh down returned, but port ${port} still answers`, run.output);
        await new Promise((done) => setTimeout(done, 200));
      }
    }
    return run;
  }

  /** Down, then up on the same data dir. */
  async restart(): Promise<{ readonly down: ScriptRun; readonly up: ScriptRun }> {
    const down = await this.down();
    const up = await this.up();
    return { down, up };
  }

  /** Stops the broker and deletes its data dir. Safe to call when start failed half-way. */
  async dispose(): Promise<void> {
    const dir = this.dataDir;
    if (!dir) return;
    try {
      await this.down();
    } finally {
      this.dataDir = undefined;
      await rm(dir, { recursive: true, force: true });
    }
  }

  private run(command: 'up' | 'down'): Promise<ScriptRun> {
    const dataDir = this.dataDir;
    if (!dataDir) return Promise.reject(new Error(`PulsarBrokerFixture: ${command} before start`));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PULSAR_CLUSTER_NAME: this.clusterName,
      PULSAR_BROKER_PORT: String(this.brokerPort),
      PULSAR_WEB_PORT: String(this.webPort),
      PULSAR_BOOKIE_PORT: String(this.bookiePort),
      PULSAR_DATA_DIR: dataDir,
    };
    const started = Date.now();
    return new Promise((done, fail) => {
      execFile(
        'bash',
        [PULSAR_SCRIPT, command],
        { env, timeout: this.commandTimeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const output = `${stdout}${stderr}`;
          if (error) {
            const how = error.killed ? `killed after ${this.commandTimeoutMs} ms` : `exit ${String(error.code)}`;
            fail(new ScriptError(`pulsar.sh ${command} (data ${dataDir}) failed (${how})`, output));
            return;
          }
          done({ durationMs: Date.now() - started, output });
        },
      );
    });
  }
}
