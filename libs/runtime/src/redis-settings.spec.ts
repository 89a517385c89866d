import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshConfigError, validateMeshEnvironment } from './mesh-config';
import { openStateStore, readRedisSecurity, type RedisSecuritySettings } from './redis-settings';

const SECRET = 'S3cret-Pw-9d1f';

describe('the Redis settings (readRedisSecurity)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentmesh-redis-settings-'));
  const file = (name: string, content: string): string => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  let ca: string;
  let cert: string;
  let key: string;
  let otherKey: string;

  beforeAll(() => {
    // a self-signed certificate stands for the CA and for the client's own
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'key.pem');
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'other-key.pem');
    openssl('req', '-x509', '-new', '-key', 'key.pem', '-subj', '/CN=test', '-days', '1', '-out', 'cert.pem');
    ca = join(dir, 'cert.pem');
    cert = ca;
    key = join(dir, 'key.pem');
    otherKey = join(dir, 'other-key.pem');
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const read = (env: RedisSecuritySettings) => {
    const problems: string[] = [];
    const security = readRedisSecurity(env, problems);
    return { security, problems };
  };

  it('leaves everything out without REDIS_URL (the state is in memory; the rebuild runs roles that way)', () => {
    expect(read({ REDIS_USERNAME: 'mesh', REDIS_PASSWORD_FILE: '/nowhere' })).toEqual({
      security: { settings: [] },
      problems: [],
    });
  });

  it('keeps a user and password given in REDIS_URL in the URL', () => {
    expect(read({ REDIS_URL: `redis://mesh:${SECRET}@cache:6379/2` })).toEqual({
      security: { settings: ['REDIS_URL'] },
      problems: [],
    });
  });

  it('reads the password from REDIS_PASSWORD_FILE, trailing line breaks left out', () => {
    const passwordFile = file('pw', `${SECRET}\r\n`);
    expect(read({ REDIS_URL: 'redis://cache', REDIS_USERNAME: 'mesh', REDIS_PASSWORD_FILE: passwordFile })).toEqual({
      security: {
        username: 'mesh',
        password: SECRET,
        settings: ['REDIS_URL', 'REDIS_USERNAME', 'REDIS_PASSWORD_FILE'],
      },
      problems: [],
    });
  });

  it('reads the CA, the client certificate and its key for a rediss:// URL', () => {
    const { security, problems } = read({
      REDIS_URL: 'rediss://cache:6380',
      REDIS_TLS_CA_FILE: ca,
      REDIS_TLS_CERT_FILE: cert,
      REDIS_TLS_KEY_FILE: key,
    });
    expect(problems).toEqual([]);
    expect(security.tls?.ca).toContain('-----BEGIN CERTIFICATE-----');
    expect(security.tls?.cert).toContain('-----BEGIN CERTIFICATE-----');
    expect(security.tls?.key).toContain('PRIVATE KEY-----');
  });

  it.each<[string, () => RedisSecuritySettings, RegExp]>([
    [
      'a URL of another scheme',
      () => ({ REDIS_URL: `http://mesh:${SECRET}@cache` }),
      /^REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL .*got "http:\/\/mesh:\*\*\*@cache\/"/,
    ],
    ['no URL at all', () => ({ REDIS_URL: 'localhost:6379' }), /^REDIS_URL must be a redis:\/\//],
    [
      'a path that is no database number',
      () => ({ REDIS_URL: `redis://mesh:${SECRET}@cache/x` }),
      /^REDIS_URL: the path is the database number.*\*\*\*/,
    ],
    [
      'both password settings',
      () => ({
        REDIS_URL: 'redis://cache',
        REDIS_USERNAME: 'mesh',
        REDIS_PASSWORD: SECRET,
        REDIS_PASSWORD_FILE: file('pw2', SECRET),
      }),
      /^REDIS_PASSWORD and REDIS_PASSWORD_FILE are both set/,
    ],
    [
      'a password in the URL and in REDIS_PASSWORD',
      () => ({ REDIS_URL: `redis://:${SECRET}@cache`, REDIS_PASSWORD: SECRET }),
      /^REDIS_URL holds a password and REDIS_PASSWORD\(_FILE\) is set too/,
    ],
    [
      'a user in the URL and in REDIS_USERNAME',
      () => ({ REDIS_URL: `redis://mesh:${SECRET}@cache`, REDIS_USERNAME: 'mesh' }),
      /^REDIS_USERNAME and a user in REDIS_URL are both set/,
    ],
    [
      'a user without a password',
      () => ({ REDIS_URL: 'redis://cache', REDIS_USERNAME: 'mesh' }),
      /^a Redis user needs its password: set REDIS_PASSWORD_FILE/,
    ],
    [
      'a password file that is not there',
      () => ({ REDIS_URL: 'redis://cache', REDIS_PASSWORD_FILE: join(dir, 'missing') }),
      /^REDIS_PASSWORD_FILE: cannot read .*missing \(ENOENT\)/,
    ],
    [
      'an empty password file',
      () => ({ REDIS_URL: 'redis://cache', REDIS_PASSWORD_FILE: file('empty', '\n') }),
      /^REDIS_PASSWORD_FILE: .*empty must hold the password on one line/,
    ],
    [
      'TLS files with a redis:// URL',
      () => ({ REDIS_URL: 'redis://cache', REDIS_TLS_CA_FILE: ca }),
      /^REDIS_TLS_CA_FILE set, but REDIS_URL is redis:\/\/ \(no TLS\): use rediss:\/\//,
    ],
    [
      'a client certificate without its key',
      () => ({ REDIS_URL: 'rediss://cache', REDIS_TLS_CERT_FILE: cert }),
      /^REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together/,
    ],
    [
      'a CA file that is no certificate',
      () => ({ REDIS_URL: 'rediss://cache', REDIS_TLS_CA_FILE: file('ca.txt', 'hello') }),
      /^REDIS_TLS_CA_FILE: .*ca\.txt is not a PEM certificate/,
    ],
    [
      'a key file that is no key',
      () => ({ REDIS_URL: 'rediss://cache', REDIS_TLS_CERT_FILE: cert, REDIS_TLS_KEY_FILE: file('key.txt', SECRET) }),
      /^REDIS_TLS_KEY_FILE: .*key\.txt is not an unencrypted PEM private key \(content not shown\)/,
    ],
    [
      'a key that is not the certificate’s',
      () => ({ REDIS_URL: 'rediss://cache', REDIS_TLS_CERT_FILE: cert, REDIS_TLS_KEY_FILE: otherKey }),
      /^REDIS_TLS_KEY_FILE: .* is not the key of the certificate in REDIS_TLS_CERT_FILE/,
    ],
  ])('refuses %s, naming the setting, never showing the password', (_what, env, message) => {
    const { problems } = read(env());
    expect(problems).toEqual([expect.stringMatching(message)]);
    expect(problems.join('\n')).not.toContain(SECRET);
  });

  it('stops validateMeshEnvironment with every problem at once, the password nowhere', () => {
    let error: unknown;
    try {
      validateMeshEnvironment({ REDIS_URL: `ftp://u:${SECRET}@cache`, REDIS_PASSWORD: SECRET, PORT: 'x' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MeshConfigError);
    expect((error as MeshConfigError).problems).toEqual([
      expect.stringMatching(/^PORT must be/),
      expect.stringMatching(/^REDIS_URL must be a redis:\/\//),
    ]);
    expect((error as Error).message).not.toContain(SECRET);
  });

  it('gives the agents the credentials and TLS (MeshConfig.redisSecurity)', () => {
    const config = validateMeshEnvironment({
      REDIS_URL: 'rediss://cache:6380',
      REDIS_USERNAME: 'mesh',
      REDIS_PASSWORD: SECRET,
      REDIS_TLS_CA_FILE: ca,
    });
    expect(config.redisSecurity).toMatchObject({ username: 'mesh', password: SECRET, tls: { ca: expect.any(String) } });
  });

  it('a store that cannot connect names the Redis settings in use, never the password', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (address === null || typeof address === 'string') throw new Error('no port');
    const env = { REDIS_URL: `redis://127.0.0.1:${address.port}`, REDIS_USERNAME: 'mesh', REDIS_PASSWORD: SECRET };
    const error = await openStateStore({ redisUrl: env.REDIS_URL, redisSecurity: read(env).security }).catch(
      (e: unknown) => e,
    );
    expect((error as Error).message).toMatch(
      /^Redis at redis:\/\/127\.0\.0\.1:\d+ did not answer: .*ECONNREFUSED.*\(Redis settings in use: REDIS_URL, REDIS_USERNAME, REDIS_PASSWORD\)$/,
    );
    expect((error as Error).message).not.toContain(SECRET);
  });
});
