import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { openStateStore, readRedisSecurity } from '@agent-mesh/runtime';
import { RedisStateStore, type StateStore } from '@agent-mesh/state';
import { InProcessMesh, startAgents, WorkflowClient, type AgentRole } from '@agent-mesh/testing';
import { PatternSkills } from './support/pattern-scenarios';
import { describeRebuild, rebuildWorkflowSpecs, type RebuildMesh } from './support/rebuild-scenarios';
import {
  makeCertificates,
  TestRedisServer,
  WORKSPACE,
  writeAclFile,
  type TestCertificates,
} from './support/secured-redis';
import { sleep } from './support/test-skills';

/*
 * Redis secured as docs/security.md says, with redis-server instances of this suite's own:
 * - :6391 loads an ACL file whose `mesh` user is deploy/redis/mesh-acl.sh's (the shipped rules);
 * - :6392 serves TLS only, requiring a client certificate (mutual TLS), with the same ACL file.
 * Every role with state (orchestrator, aggregator, saga coordinator, market maker; workers keep
 * none) is configured through the settings, as a deployed agent is: REDIS_URL, REDIS_USERNAME,
 * REDIS_PASSWORD(_FILE), REDIS_TLS_*_FILE.
 */

const ACL_PORT = 6391;
const TLS_PORT = 6392;
const ADMIN_PASSWORD = 'admin-only-in-this-test';
// Passwords unlike anything else a process prints, so finding one in its output means a leak.
const MESH_PASSWORD = 'Mesh-Pw-7f3c1a9e+/=';
const WRONG_PASSWORD = 'Wrong-Pw-e41b0c77d2';
const ROLES: readonly AgentRole[] = [
  'orchestrator',
  'aggregator',
  'saga-coordinator',
  'market-maker',
  'worker',
  'worker',
];
const BOARDS = { MESH_BOARDS: 'default,ideas' };

const dir = mkdtempSync(join(tmpdir(), 'agentmesh-redis-security-'));
const passwordFile = join(dir, 'mesh.password');
const aclFile = join(dir, 'users.acl');
let certificates: TestCertificates;
let aclRedis: TestRedisServer;
let tlsRedis: TestRedisServer;

/** An admin connection (the `default` user) to the ACL instance, on the mesh's database. */
const admin = () =>
  new Redis({
    port: ACL_PORT,
    host: '127.0.0.1',
    db: 1,
    password: ADMIN_PASSWORD,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });

beforeAll(async () => {
  writeFileSync(passwordFile, `${MESH_PASSWORD}\n`);
  writeAclFile(aclFile, passwordFile, ADMIN_PASSWORD);
  certificates = makeCertificates(dir);
  aclRedis = new TestRedisServer(ACL_PORT, ['--port', String(ACL_PORT), '--aclfile', aclFile], dir);
  tlsRedis = new TestRedisServer(
    TLS_PORT,
    [
      '--port',
      '0',
      '--tls-port',
      String(TLS_PORT),
      '--tls-cert-file',
      certificates.serverCert,
      '--tls-key-file',
      certificates.serverKey,
      '--tls-ca-cert-file',
      certificates.ca,
      '--tls-auth-clients',
      'yes',
      '--aclfile',
      aclFile,
    ],
    dir,
  );
  await aclRedis.start();
  await tlsRedis.start();
}, 60_000);

afterAll(async () => {
  await aclRedis?.stop();
  await tlsRedis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('every role as the ACL user `mesh` (deploy/redis/mesh-acl.rules), on the memory bus', () => {
  const env = {
    ...BOARDS,
    // database 1: ioredis SELECTs it (granted by the rules)
    REDIS_URL: `redis://127.0.0.1:${ACL_PORT}/1`,
    REDIS_USERNAME: 'mesh',
    REDIS_PASSWORD_FILE: passwordFile,
  };
  const mesh = new InProcessMesh();
  const skills = new PatternSkills();
  let client: WorkflowClient;
  let state: StateStore;

  beforeAll(async () => {
    const [orchestrator] = await startAgents(mesh, ROLES, () => ({ skills: skills.registry(), env }));
    client = new WorkflowClient(orchestrator.url, { timeoutMs: 20_000 });
    // the connection `mesh replay` makes: the same settings, read the same way
    const problems: string[] = [];
    state = await openStateStore({ redisUrl: env.REDIS_URL, redisSecurity: readRedisSecurity(env, problems) });
    expect(problems).toEqual([]);
  });

  afterAll(async () => {
    skills.hang.release();
    await sleep(100);
    await mesh.stopAll();
    await state?.close();
  });

  // Workflows of every pattern (fan-out with each policy and strategy, chain with gates,
  // supervisor tree, saga, blackboard, market, solver rounds), then their keys deleted and rebuilt
  // from the log (libs/replay, as `mesh replay` does), then workflows caught in flight.
  describeRebuild((): RebuildMesh => ({
    client,
    skills,
    bus: mesh.broker.connect(),
    naming: mesh.naming,
    state,
    env,
    waitMs: 20_000,
    quietMs: 150,
  }));

  it('Redis refused nothing the mesh sent: ACL LOG is empty, and the keys are the mesh’s', async () => {
    const redis = admin();
    try {
      expect(await redis.acl('LOG')).toEqual([]);
      const keys = await redis.keys('*');
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.filter((key) => !key.startsWith('agentmesh:'))).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('refuses what the ACL does not grant: other commands, other keys, a script reaching past its keys', async () => {
    const redis = new Redis({
      port: ACL_PORT,
      host: '127.0.0.1',
      username: 'mesh',
      password: MESH_PASSWORD,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    await redis.connect();
    try {
      // granted: the mesh's own keys
      expect(await redis.set('agentmesh:acl-probe', '1')).toBe('OK');
      const refused = async (what: string, run: () => Promise<unknown>) =>
        expect({
          what,
          error: await run().then(
            () => 'granted',
            (error: Error) => error.message,
          ),
        }).toEqual({
          what,
          error: expect.stringMatching(/NOPERM|can't run this command|can't access/),
        });
      await refused('FLUSHALL', () => redis.flushall());
      await refused('CONFIG GET', () => redis.config('GET', 'requirepass'));
      await refused('KEYS', () => redis.keys('*'));
      await refused('SCRIPT LOAD', () => redis.script('LOAD', 'return 1'));
      await refused('ACL LIST', () => redis.acl('LIST'));
      await refused('a key outside the prefix', () => redis.set('elsewhere:x', '1'));
      await refused('a script given a key outside the prefix', () =>
        redis.eval("return redis.call('SET', KEYS[1], '1')", 1, 'elsewhere:x'),
      );
      await refused('a script touching a key it was not given', () =>
        redis.eval("return redis.call('SET', 'elsewhere:x', '1')", 0),
      );
      await refused('a script calling a command not granted', () =>
        redis.eval("return redis.call('FLUSHALL')", 1, 'agentmesh:x'),
      );
      await refused('PUBLISH (no channels)', () => redis.publish('agentmesh:x', 'hi'));
    } finally {
      redis.disconnect();
    }
    const log = admin();
    try {
      // the refusals are what Redis logged, each as user mesh
      const entries = (await log.acl('LOG')) as unknown[][];
      expect(entries.length).toBeGreaterThanOrEqual(9);
      expect(entries.every((entry) => entry[entry.indexOf('username') + 1] === 'mesh')).toBe(true);
      expect(await log.exists('elsewhere:x')).toBe(0);
    } finally {
      log.disconnect();
    }
  });

  it('rotates the password as docs/security.md says: both work while the agents move, then only the new', async () => {
    const NEW_PASSWORD = 'Mesh-Pw-rotated-40c2';
    const connectAs = (password: string) =>
      RedisStateStore.connect({ url: env.REDIS_URL, username: 'mesh', password }).then(
        async (store) => {
          await store.close();
          return 'connected';
        },
        (error: Error) => error.message,
      );
    const redis = admin();
    try {
      await redis.acl('SETUSER', 'mesh', `>${NEW_PASSWORD}`);
      expect([await connectAs(MESH_PASSWORD), await connectAs(NEW_PASSWORD)]).toEqual(['connected', 'connected']);
      await redis.acl('SETUSER', 'mesh', `<${MESH_PASSWORD}`);
      expect(await connectAs(MESH_PASSWORD)).toMatch(/refused the user and password/);
      expect(await connectAs(NEW_PASSWORD)).toBe('connected');
      // the agents' connections, authenticated before, carry on
      const task = rebuildWorkflowSpecs().find(({ name }) => name.startsWith('task: '));
      const id = await client.submit(task?.spec);
      expect((await client.finished(id, 20_000)).status).toBe('completed');
      expect(await state.hget(`orchestrator:wf:${id}`, 'status')).toBe('completed');
    } finally {
      await redis.acl('SETUSER', 'mesh', `>${MESH_PASSWORD}`, `<${NEW_PASSWORD}`).catch(() => undefined);
      redis.disconnect();
    }
  });
});

describe('over TLS (rediss://, the server requiring a client certificate)', () => {
  const tlsEnv = () => ({
    ...BOARDS,
    // the user and password in the URL this time (percent-encoded)
    REDIS_URL: `rediss://mesh:${encodeURIComponent(MESH_PASSWORD)}@127.0.0.1:${TLS_PORT}`,
    REDIS_TLS_CA_FILE: certificates.ca,
    REDIS_TLS_CERT_FILE: certificates.clientCert,
    REDIS_TLS_KEY_FILE: certificates.clientKey,
  });
  const mesh = new InProcessMesh();
  const skills = new PatternSkills();
  let client: WorkflowClient;

  beforeAll(async () => {
    const [orchestrator] = await startAgents(mesh, ROLES, () => ({ skills: skills.registry(), env: tlsEnv() }));
    client = new WorkflowClient(orchestrator.url, { timeoutMs: 20_000 });
  });

  afterAll(async () => {
    skills.hang.release();
    await sleep(100);
    await mesh.stopAll();
  });

  it('completes workflows of fan-out, chain, saga, blackboard and market, their state in the TLS Redis', async () => {
    const wanted = [/^all: /, /^runs 3 stages/, /^saga: every step done/, /^blackboard/, /^market/];
    const specs = rebuildWorkflowSpecs().filter(({ name }) => wanted.some((pattern) => pattern.test(name)));
    expect(specs).toHaveLength(wanted.length);
    const ids = await Promise.all(specs.map(({ spec }) => client.submit(spec)));
    const finished = await Promise.all(ids.map((id) => client.finished(id, 20_000)));
    expect(finished.map((w, i) => ({ name: specs[i].name, status: w.status }))).toEqual(
      specs.map(({ name }) => ({ name, status: 'completed' })),
    );
    const problems: string[] = [];
    const state = await openStateStore({
      redisUrl: tlsEnv().REDIS_URL,
      redisSecurity: readRedisSecurity(tlsEnv(), problems),
    });
    try {
      expect(problems).toEqual([]);
      for (const id of ids) expect(await state.hget(`orchestrator:wf:${id}`, 'status')).toBe('completed');
    } finally {
      await state.close();
    }
  });

  it('refuses a client that does not trust its certificate, or has none of its own', async () => {
    const url = `rediss://127.0.0.1:${TLS_PORT}`;
    const credentials = { username: 'mesh', password: MESH_PASSWORD, connectTimeoutMs: 2_000 };
    const pem = (file: string) => readFileSync(file, 'utf8');
    const attempt = (tls?: { ca?: string; cert?: string; key?: string }) =>
      RedisStateStore.connect({ url, ...credentials, ...(tls ? { tls } : {}) }).then(
        async (store) => {
          await store.close();
          return 'connected';
        },
        (error: Error) => error.message,
      );
    // Node's CAs do not know the test CA; nor does another CA
    expect(await attempt()).toMatch(/failed the TLS handshake: .*certificate.*\(SELF_SIGNED_CERT_IN_CHAIN\)/);
    expect(await attempt({ ca: pem(certificates.otherCa) })).toMatch(/failed the TLS handshake: .*certificate/);
    // the CA is right but no client certificate: Redis ends the handshake with TLS 1.3's alert
    // "certificate required", which the client reads, or finds the connection reset when it writes first
    expect(await attempt({ ca: pem(certificates.ca) })).toMatch(
      /failed the TLS handshake: .*certificate required|did not answer: .*ECONNRESET/,
    );
    expect(
      await attempt({ ca: pem(certificates.ca), cert: pem(certificates.clientCert), key: pem(certificates.clientKey) }),
    ).toBe('connected');
  });
});

describe('start-up with a wrong password', () => {
  /** The real orchestrator process (apps/orchestrator), as deployed: its exit code and everything it printed. */
  const runOrchestrator = (env: Record<string, string>): Promise<{ code: number | null; output: string }> => {
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !/^(REDIS_|MESH_|PULSAR_)/.test(name)),
    );
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/orchestrator/src/main.ts'], {
      cwd: WORKSPACE,
      env: { ...inherited, MESH_TRANSPORT: 'memory', PORT: '0', NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    return new Promise((resolve) =>
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, output });
      }),
    );
  };

  it.each([
    [
      'REDIS_PASSWORD',
      { REDIS_URL: `redis://127.0.0.1:${ACL_PORT}`, REDIS_USERNAME: 'mesh', REDIS_PASSWORD: WRONG_PASSWORD },
    ],
    ['the password in REDIS_URL', { REDIS_URL: `redis://mesh:${WRONG_PASSWORD}@127.0.0.1:${ACL_PORT}` }],
  ])(
    'given in %s: the agent exits 1 saying Redis refused the user and password, naming the settings, never printing the password',
    async (_how, env) => {
      const { code, output } = await runOrchestrator(env);
      expect(code).toBe(1);
      expect(output).toContain(`Redis at redis://`);
      expect(output).toMatch(/refused the user and password: ReplyError: WRONGPASS/);
      expect(output).toMatch(/Redis settings in use: REDIS_URL/);
      expect(output).not.toContain(WRONG_PASSWORD);
      expect(output).not.toContain(MESH_PASSWORD);
    },
    90_000,
  );
});
