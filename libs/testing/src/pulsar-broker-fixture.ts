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

  /** The broker log, for a failing test to point at. */
  get logFile(): string | undefined {
    return this.dataDir ? join(this.dataDir, this.clusterName, 'logs', 'pulsar-standalone.log') : undefined;
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

  /** `pulsar.sh up` on the existing data dir. */
  up(): Promise<ScriptRun> {
    return this.run('up');
  }

  /** `pulsar.sh down` (SIGTERM, SIGKILL after 30 s); the data dir stays. */
  down(): Promise<ScriptRun> {
    return this.run('down');
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
            fail(new Error(`pulsar.sh ${command} (data ${dataDir}) failed: ${error.message}\n${output}`));
            return;
          }
          done({ durationMs: Date.now() - started, output });
        },
      );
    });
  }
}
