import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
  /** `--auth`: token authentication and authorization (admin and mesh tokens under the data dir). */
  readonly auth?: boolean;
  /** `--tls`: TLS ports beside the plain ones, with a CA of the data dir's own. */
  readonly tls?: { readonly brokerPort: number; readonly webPort: number };
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
  readonly auth: boolean;
  readonly tls?: { readonly brokerPort: number; readonly webPort: number };
  private readonly commandTimeoutMs: number;
  private dataDir?: string;

  constructor(options: PulsarBrokerFixtureOptions = {}) {
    this.clusterName = options.clusterName ?? 'restart-test';
    this.brokerPort = options.brokerPort ?? 6671;
    this.webPort = options.webPort ?? 8071;
    this.bookiePort = options.bookiePort ?? 3172;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 180_000;
    this.auth = options.auth ?? false;
    this.tls = options.tls;
  }

  get webUrl(): string {
    return `http://127.0.0.1:${this.webPort}`;
  }

  get serviceUrl(): string {
    return `pulsar://127.0.0.1:${this.brokerPort}`;
  }

  /** https:// of the TLS web port (`tls` only). */
  get webUrlTls(): string {
    return `https://127.0.0.1:${this.requireTls().webPort}`;
  }

  /** pulsar+ssl:// of the TLS broker port (`tls` only). */
  get serviceUrlTls(): string {
    return `pulsar+ssl://127.0.0.1:${this.requireTls().brokerPort}`;
  }

  /** The CA certificate the broker's TLS certificate chains to (`tls` only). */
  get caFile(): string {
    this.requireTls();
    return join(this.requireDataDir(), 'tls', 'ca.crt');
  }

  /** The token file of a role (`auth` only): `admin` (superuser), `mesh`, or one made by `issueToken`. */
  tokenFile(role: string): string {
    if (!this.auth) throw new Error('PulsarBrokerFixture: tokens exist with auth only');
    return join(this.requireDataDir(), 'auth', `${role}.token`);
  }

  /** `pulsar.sh token <role>`: a token for a role that has been granted nothing. Returns its file. */
  async issueToken(role: string): Promise<string> {
    await this.run('token', [role]);
    return this.tokenFile(role);
  }

  private get ports(): number[] {
    return [this.webPort, this.brokerPort, ...(this.tls ? [this.tls.webPort, this.tls.brokerPort] : [])];
  }

  /** Creates the data dir and starts the broker (tenant `agentmesh`, namespace `agentmesh/mesh`). */
  async start(): Promise<ScriptRun> {
    if (this.dataDir) throw new Error('PulsarBrokerFixture already started');
    // pulsar.sh would happily "use" a healthy broker it finds on the web port; this fixture must
    // own the broker it restarts, so a taken port is an error.
    for (const port of this.ports) {
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
    for (const port of this.ports) {
      while (await isPortInUse(port)) {
        if (Date.now() > deadline)
          throw new ScriptError(`pulsar.sh down returned, but port ${port} still answers`, run.output);
        await new Promise((done) => setTimeout(done, 200));
      }
    }
    return run;
  }

  /** The standalone's log file (in the data dir: gone after dispose). */
  get logFile(): string {
    return join(this.requireDataDir(), this.clusterName, 'logs', 'pulsar-standalone.log');
  }

  /**
   * SIGKILL of the standalone (a lost region: no shutdown, no flush), the data dir kept for `up`.
   * Waits until its ports are free.
   */
  async kill(): Promise<void> {
    const pidFile = join(this.requireDataDir(), this.clusterName, 'pulsar.pid');
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no broker pid in ${pidFile}`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
    const deadline = Date.now() + 30_000;
    for (const port of this.ports)
      while (await isPortInUse(port)) {
        if (Date.now() > deadline) throw new Error(`the killed broker's port ${port} still answers`);
        await new Promise((done) => setTimeout(done, 200));
      }
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

  private requireDataDir(): string {
    if (!this.dataDir) throw new Error('PulsarBrokerFixture: not started');
    return this.dataDir;
  }

  private requireTls(): { readonly brokerPort: number; readonly webPort: number } {
    if (!this.tls) throw new Error('PulsarBrokerFixture: TLS ports exist with tls only');
    return this.tls;
  }

  private run(command: 'up' | 'down' | 'token', args: readonly string[] = []): Promise<ScriptRun> {
    const dataDir = this.dataDir;
    if (!dataDir) return Promise.reject(new Error(`PulsarBrokerFixture: ${command} before start`));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PULSAR_CLUSTER_NAME: this.clusterName,
      PULSAR_BROKER_PORT: String(this.brokerPort),
      PULSAR_WEB_PORT: String(this.webPort),
      PULSAR_BOOKIE_PORT: String(this.bookiePort),
      ...(this.tls
        ? { PULSAR_BROKER_TLS_PORT: String(this.tls.brokerPort), PULSAR_WEB_TLS_PORT: String(this.tls.webPort) }
        : {}),
      PULSAR_DATA_DIR: dataDir,
    };
    const flags = command === 'up' ? [...(this.auth ? ['--auth'] : []), ...(this.tls ? ['--tls'] : [])] : [];
    const started = Date.now();
    return new Promise((done, fail) => {
      execFile(
        'bash',
        [PULSAR_SCRIPT, command, ...flags, ...args],
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
