import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { freePort, RedisFixture } from '@agent-mesh/testing';

const WORKSPACE = join(__dirname, '../../..');
const ISSUER = 'https://idp.secrets.test';

/** A secret-looking value unique to this run, so finding it in output cannot be a coincidence. */
const secret = (what: string) => `${what}-${Math.random().toString(36).slice(2, 10)}-s3cr3t`;

/** An agent started as its own process from source (what `nx serve` runs), its output captured. */
class AgentRun {
  private text = '';
  readonly exited: Promise<number | null>;
  private readonly child;

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/orchestrator/src/main.ts'], {
      cwd: WORKSPACE,
      env: { PATH: process.env['PATH'] ?? '', NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout.on('data', (chunk: Buffer) => (this.text += chunk.toString()));
    this.child.stderr.on('data', (chunk: Buffer) => (this.text += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  output(): string {
    return this.text;
  }

  async healthy(url: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`exited with ${this.child.exitCode}:\n${this.text}`);
      const ok = await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`not healthy within ${timeoutMs} ms:\n${this.text}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** SIGTERM, then the exit code (SIGKILL after 20 s). */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

/** Fails naming each secret found in `text` (and where). */
function expectNoSecrets(text: string, secrets: Readonly<Record<string, string>>): void {
  const found = Object.entries(secrets)
    .filter(([, value]) => text.includes(value))
    .map(([name, value]) => `${name}: …${text.slice(Math.max(0, text.indexOf(value) - 80), text.indexOf(value))}`);
  expect(found).toEqual([]);
}

/**
 * Secrets never in output (issue 11): real orchestrator processes started with API keys, a JWT
 * issuer whose JWKS URL carries a token, a Redis password, a Pulsar token and Pulsar credentials;
 * exercised (health, wrong key, forged and valid JWTs, a right key), stopped, and failing at
 * start-up on bad secret-bearing settings, an unreachable Redis and an unreachable broker.
 * Nothing they printed, nor /health, holds any secret's value.
 */
describe('secrets in output (real processes, Redis)', () => {
  const redis = new RedisFixture();
  const redisUrl = new URL(redis.url);
  // Redis's default user takes any password while requirepass is unset (ioredis warns, without it)
  if (!redisUrl.password) redisUrl.password = secret('redis-password');
  const secrets = {
    apiKey1: secret('api-key-one'),
    apiKey2: secret('api-key-two'),
    wrongKey: secret('wrong-key'),
    redisPassword: decodeURIComponent(redisUrl.password),
    // a JWT's shape (PULSAR_TOKEN must be one), its signature the secret part
    pulsarToken: `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtZXNoIn0.${secret('pulsar-token')}`,
    pulsarPassword: secret('pulsar-password'),
    jwksToken: secret('jwks-token'),
    llmKey: secret('llm-key'),
  };
  let jwks: Server;
  let jwksUrl = '';
  let sign: (claims: { sub: string }, stranger?: boolean) => Promise<string>;

  beforeAll(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const stranger: CryptoKey = (await generateKeyPair('ES256')).privateKey;
    const body = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] });
    jwks = createServer((request, response) => {
      // the key set is only given to who knows the token in its URL
      const ok = new URL(request.url ?? '/', 'http://x').searchParams.get('token') === secrets.jwksToken;
      response.statusCode = ok ? 200 : 403;
      response.setHeader('content-type', 'application/json');
      response.end(ok ? body : '{}');
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json?token=${secrets.jwksToken}`;
    sign = (claims, byStranger = false) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(ISSUER)
        .setSubject(claims.sub)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(byStranger ? stranger : privateKey);
  });
  afterAll(async () => {
    await new Promise((resolve) => jwks.close(resolve));
    await redis.cleanup();
  });

  const secretEnv = (): Record<string, string> => ({
    MESH_TRANSPORT: 'memory',
    REDIS_URL: redisUrl.toString(),
    REDIS_KEY_PREFIX: redis.keyPrefix.replace(/:$/, ''),
    MESH_API_KEYS: `${secrets.apiKey1},${secrets.apiKey2}`,
    MESH_JWT_ISSUER: ISSUER,
    MESH_JWT_JWKS_URL: jwksUrl,
    PULSAR_TOKEN: secrets.pulsarToken,
    PULSAR_WEB_URL: `http://mesh:${secrets.pulsarPassword}@127.0.0.1:1`,
  });

  it('a running agent prints no secret, nor does /health, whatever its clients send', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const agent = new AgentRun({ ...secretEnv(), PORT: String(port) });
    let seen = '';
    try {
      await agent.healthy(url);
      const health = await fetch(`${url}/health`);
      seen += await health.text();
      expect(health.status).toBe(200);
      const submit = (token: string) =>
        fetch(`${url}/workflows`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ skill: 'keywords', inputs: [{ id: 'd1', text: 'secret keeping' }] }),
        });
      const forged = await sign({ sub: 'mallory' }, true);
      const valid = await sign({ sub: 'alice' });
      const answers: [string, number][] = [];
      for (const [what, token] of [
        ['wrong key', secrets.wrongKey],
        ['forged JWT', forged],
        ['valid JWT', valid],
        ['right key', secrets.apiKey2],
      ] as const) {
        const response = await submit(token);
        seen += await response.text();
        answers.push([what, response.status]);
      }
      expect(answers).toEqual([
        ['wrong key', 401],
        ['forged JWT', 401],
        ['valid JWT', 202],
        ['right key', 202],
      ]);
      expect(await agent.stop()).toBe(0);
      const printed = agent.output();
      expect(printed).toContain('Redis server'); // ioredis's warning about the password it was given
      expectNoSecrets(printed + seen, { ...secrets, forged, valid });
    } finally {
      await agent.stop();
    }
  });

  it.each<[string, Record<string, string>, RegExp[]]>([
    [
      'bad secret-bearing settings',
      {
        REDIS_URL: `redis://mesh:${secrets.redisPassword}@127.0.0.1:notaport`,
        PULSAR_WEB_URL: `ftp://mesh:${secrets.pulsarPassword}@127.0.0.1:8080`,
        MESH_JWT_JWKS_URL: `ftp://127.0.0.1/jwks.json?token=${secrets.jwksToken}`,
        MESH_API_KEYS: `${secrets.apiKey1},short-${secrets.apiKey2.slice(0, 5)}`,
        LLM_BASE_URL: 'http://127.0.0.1:1/v1',
        LLM_API_KEY: secrets.llmKey,
      },
      [
        /REDIS_URL must be .*redis:\/\/(mesh:)?\*\*\*@127\.0\.0\.1:notaport/,
        /PULSAR_WEB_URL/,
        /MESH_JWT_JWKS_URL/,
        /MESH_API_KEYS/,
        /LLM_MODEL/,
      ],
    ],
    [
      'an unreachable Redis',
      { REDIS_URL: `redis://mesh:${secrets.redisPassword}@127.0.0.1:1` },
      [/Redis at redis:\/\/(mesh:)?\*\*\*@127\.0\.0\.1:1/],
    ],
    [
      'an unreachable broker',
      { MESH_TRANSPORT: 'pulsar' },
      [/pulsar-ws driver \(WebSocket API at http:\/\/mesh:\*\*\*@127\.0\.0\.1:1/, /ECONNREFUSED/],
    ],
  ])('an agent that cannot start on %s says why, naming settings, showing no secret', async (_what, env, expected) => {
    const agent = new AgentRun({ ...secretEnv(), PORT: String(await freePort()), ...env });
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      agent.exited,
      new Promise((resolve) => (timer = setTimeout(() => resolve('still running after 60 s'), 60_000))),
    ]);
    clearTimeout(timer);
    await agent.stop();
    const printed = agent.output();
    expect(code).toBe(1);
    for (const pattern of expected) expect(printed).toMatch(pattern);
    expectNoSecrets(printed, secrets);
  });
});
