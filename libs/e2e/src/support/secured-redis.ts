import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

/*
 * Redis instances of a suite's own, secured as docs/security.md says: an ACL file holding the
 * mesh's user (deploy/redis/mesh-acl.sh), TLS with certificates made here by openssl. Each runs
 * on a port assigned to the suite, never the shared :6379.
 */

export const WORKSPACE = join(__dirname, '../../../..');

/** The certificates of a test: a CA, Redis's certificate (127.0.0.1, localhost), a client's, and a CA that signed neither. */
export interface TestCertificates {
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  readonly otherCa: string;
}

/** Makes the certificates in `dir` with openssl (P-256 keys, one day). */
export function makeCertificates(dir: string): TestCertificates {
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => {
    try {
      execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? String(error);
      throw new Error(`openssl ${args[0]} failed (the test needs the openssl command): ${stderr}`, { cause: error });
    }
  };
  const newKey = (name: string) =>
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path(name));
  const selfSigned = (name: string, subject: string) => {
    newKey(`${name}.key`);
    openssl(
      'req',
      '-x509',
      '-new',
      '-key',
      path(`${name}.key`),
      '-subj',
      subject,
      '-days',
      '1',
      '-out',
      path(`${name}.crt`),
    );
  };
  const signed = (name: string, subject: string, extensions: string) => {
    newKey(`${name}.key`);
    openssl('req', '-new', '-key', path(`${name}.key`), '-subj', subject, '-out', path(`${name}.csr`));
    writeFileSync(path(`${name}.ext`), extensions);
    openssl(
      'x509',
      '-req',
      '-in',
      path(`${name}.csr`),
      '-CA',
      path('ca.crt'),
      '-CAkey',
      path('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      path(`${name}.ext`),
      '-out',
      path(`${name}.crt`),
    );
  };
  selfSigned('ca', '/CN=agent-mesh test CA');
  selfSigned('other-ca', '/CN=another CA');
  signed('server', '/CN=redis', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  signed('client', '/CN=mesh', 'extendedKeyUsage=clientAuth\n');
  return {
    ca: path('ca.crt'),
    serverCert: path('server.crt'),
    serverKey: path('server.key'),
    clientCert: path('client.crt'),
    clientKey: path('client.key'),
    otherCa: path('other-ca.crt'),
  };
}

/**
 * An ACL file: the mesh's user as deploy/redis/mesh-acl.sh writes it (password from its file), and
 * `default` as the admin, with its own password and every right (the test inspects through it).
 */
export function writeAclFile(file: string, meshPasswordFile: string, adminPassword: string): void {
  const meshUser = execFileSync(
    'bash',
    [join(WORKSPACE, 'deploy/redis/mesh-acl.sh'), '--password-file', meshPasswordFile],
    {
      encoding: 'utf8',
    },
  );
  const adminHash = createHash('sha256').update(adminPassword).digest('hex');
  writeFileSync(file, `user default on #${adminHash} ~* &* +@all\n${meshUser}`);
}

/** A redis-server of the test's own; `start` waits until it is ready, `stop` until it has exited. */
export class TestRedisServer {
  private child?: ChildProcess;
  private output = '';

  constructor(
    readonly port: number,
    private readonly args: readonly string[],
    private readonly dir: string,
  ) {}

  async start(): Promise<void> {
    if (await listening(this.port))
      throw new Error(`port ${this.port} is taken: a redis-server left over from an earlier run?`);
    const child = spawn(
      'redis-server',
      ['--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'no', ...this.args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) =>
        reject(new Error(`cannot run redis-server (the test needs it installed): ${error.message}`)),
      );
    });
    await spawned;
    const deadline = Date.now() + 20_000;
    while (!this.output.includes('Ready to accept connections')) {
      if (child.exitCode !== null)
        throw new Error(`redis-server on :${this.port} exited with ${child.exitCode}:\n${this.output}`);
      if (Date.now() > deadline)
        throw new Error(`redis-server on :${this.port} was not ready within 20 s:\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Whether anything accepts TCP connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => done(true));
  });
}
