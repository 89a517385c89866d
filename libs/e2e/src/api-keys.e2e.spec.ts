import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import {
  InProcessMesh,
  startAgent,
  startAgents,
  WORKFLOW_ROLES,
  WorkflowClient,
  type AgentProcess,
} from '@agent-mesh/testing';
import { PatternSkills } from './support/pattern-scenarios';

const ISSUER = 'https://idp.test.agent-mesh';
const AUDIENCE = 'agent-mesh-api';

/** An identity provider's key set over real HTTP, and tokens it (or a stranger) signs. */
class JwksServer {
  private server?: Server;
  private key?: { privateKey: CryptoKey; publicJwk: JWK };
  private stranger?: CryptoKey;
  url = '';

  async start(): Promise<void> {
    const pair = await generateKeyPair('ES256');
    this.key = {
      privateKey: pair.privateKey,
      publicJwk: { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' },
    };
    this.stranger = (await generateKeyPair('ES256')).privateKey;
    const body = JSON.stringify({ keys: [this.key.publicJwk] });
    this.server = createServer((request, response) => {
      if (request.url !== '/.well-known/jwks.json') {
        response.statusCode = 404;
        response.end();
        return;
      }
      response.setHeader('content-type', 'application/json');
      response.end(body);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  token(claims: {
    sub: string | undefined;
    issuer?: string;
    audience?: string;
    expiresAt?: number;
    signedByStranger?: boolean;
  }): Promise<string> {
    const jwt = new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(claims.issuer ?? ISSUER)
      .setAudience(claims.audience ?? AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(claims.expiresAt ?? '5m');
    if (claims.sub) jwt.setSubject(claims.sub);
    return jwt.sign(claims.signedByStranger ? this.stranger! : this.key!.privateKey);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/**
 * The HTTP API's credentials and rate limits: API keys (MESH_API_KEYS) and JWTs (MESH_JWT_*) as
 * `Authorization: Bearer <token>` — 401 without one or with a wrong one, the route's answer with a
 * right one; /health stays open. Per-client rate limits (MESH_RATE_LIMIT per
 * MESH_RATE_LIMIT_WINDOW_MS): 429 with Retry-After past the limit, counted per key, per JWT `sub`,
 * or per IP without credentials. Without credentials configured, an agent listens on 127.0.0.1 only.
 */
describe('API keys, JWT and rate limits (memory bus)', () => {
  const mesh = new InProcessMesh();
  const skills = new PatternSkills();
  const KEYS = ['k1-0123456789abcdef', 'k2-fedcba9876543210'];
  const jwks = new JwksServer();
  let keyed: AgentProcess[];
  let open: AgentProcess;
  let limited: AgentProcess;
  let jwtAgent: AgentProcess;
  let noJwks: AgentProcess;

  beforeAll(async () => {
    await jwks.start();
    const env = { MESH_API_KEYS: KEYS.join(',') };
    keyed = await startAgents(mesh, WORKFLOW_ROLES, () => ({ skills: skills.registry(), env }));
    open = await mesh.start({
      role: 'orchestrator-open',
      modules: [],
      instanceId: 'open-1',
      env: { MESH_RATE_LIMIT: '2', MESH_RATE_LIMIT_WINDOW_MS: '60000' },
    });
    limited = await startAgent(mesh, {
      role: 'orchestrator',
      instanceId: 'limited-1',
      skills: skills.registry(),
      env: { ...env, MESH_RATE_LIMIT: '3', MESH_RATE_LIMIT_WINDOW_MS: '60000' },
    });
    const jwtEnv = {
      ...env,
      MESH_JWT_ISSUER: ISSUER,
      MESH_JWT_JWKS_URL: `${jwks.url}/.well-known/jwks.json`,
      MESH_JWT_AUDIENCE: AUDIENCE,
    };
    jwtAgent = await startAgent(mesh, {
      role: 'orchestrator',
      instanceId: 'jwt-1',
      skills: skills.registry(),
      env: { ...jwtEnv, MESH_RATE_LIMIT: '10', MESH_RATE_LIMIT_WINDOW_MS: '60000' },
    });
    // a JWKS nobody serves: tokens cannot be checked, which is the issuer's outage, not the client's fault
    noJwks = await mesh.start({
      role: 'orchestrator-no-jwks',
      modules: [],
      instanceId: 'no-jwks-1',
      env: { ...jwtEnv, MESH_JWT_JWKS_URL: 'http://127.0.0.1:1/jwks.json' },
    });
  });
  afterAll(async () => {
    await mesh.stopAll();
    await jwks.stop();
  });

  const submit = (agent: AgentProcess, token?: string) =>
    fetch(`${agent.url}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ step: { kind: 'task', skill: 'count', input: { id: 'k', text: 'two words' } } }),
    });

  it('answers 401 without a key or with a wrong one, and the route’s answer with a right one', async () => {
    const none = await submit(keyed[0]);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(((await none.json()) as { message: string }).message).toMatch(/Authorization: Bearer/);
    expect((await submit(keyed[0], 'k3-not-one-of-the-keys')).status).toBe(401);
    for (const key of KEYS) expect((await submit(keyed[0], key)).status).toBe(202);
    const list = await fetch(`${keyed[0].url}/workflows`);
    expect(list.status).toBe(401);
  });

  it('keeps /health open, and listens on every address when keys are set', async () => {
    expect((await fetch(`${keyed[0].url}/health`)).status).toBe(200);
    const address = (keyed[0].app.getHttpServer() as Server).address() as AddressInfo;
    expect(address.address).toBe('0.0.0.0');
  });

  it('listens on 127.0.0.1 only when no key is set', () => {
    const address = (open.app.getHttpServer() as Server).address() as AddressInfo;
    expect(address.address).toBe('127.0.0.1');
  });

  it('answers 429 with Retry-After past the rate limit, per key; /health is never limited', async () => {
    expect((await submit(limited)).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await submit(limited, KEYS[0])).status).toBe(202);
    const over = await submit(limited, KEYS[0]);
    expect(over.status).toBe(429);
    const retryAfter = Number(over.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(((await over.json()) as { message: string }).message).toMatch(/rate limit: 3 requests per 60000 ms/);
    // another key has its own budget
    expect((await submit(limited, KEYS[1])).status).toBe(202);
    for (let i = 0; i < 5; i++) expect((await fetch(`${limited.url}/health`)).status).toBe(200);
  });

  it('limits per client IP when no credentials are configured', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${open.url}/anything`)).status);
    expect(statuses).toEqual([404, 404, 429]);
    expect((await fetch(`${open.url}/health`)).status).toBe(200);
  });

  it('accepts a JWT of the issuer beside the keys; refuses expired, wrong-issuer and badly signed ones', async () => {
    expect((await submit(jwtAgent, await jwks.token({ sub: 'alice' }))).status).toBe(202);
    expect((await submit(jwtAgent, KEYS[0])).status).toBe(202); // keys still work
    const refused = async (token: string, reason: RegExp) => {
      const response = await submit(jwtAgent, token);
      expect([response.status, ((await response.json()) as { message: string }).message]).toEqual([
        401,
        expect.stringMatching(reason),
      ]);
    };
    await refused(await jwks.token({ sub: 'alice', expiresAt: Math.floor(Date.now() / 1000) - 60 }), /"exp" claim/);
    await refused(await jwks.token({ sub: 'alice', issuer: 'https://evil.example' }), /"iss" claim/);
    await refused(await jwks.token({ sub: 'alice', audience: 'another-api' }), /"aud" claim/);
    await refused(await jwks.token({ sub: 'alice', signedByStranger: true }), /signature verification failed/);
    await refused(await jwks.token({ sub: undefined }), /"sub" claim/);
  });

  it('limits JWT clients by their sub, whatever token they send', async () => {
    // jwtAgent allows 10 per window; alice spent 1 above (the refused tokens counted against the IP)
    for (let i = 0; i < 9; i++) expect((await submit(jwtAgent, await jwks.token({ sub: 'alice' }))).status).toBe(202);
    const over = await submit(jwtAgent, await jwks.token({ sub: 'alice' }));
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await submit(jwtAgent, await jwks.token({ sub: 'bob' }))).status).toBe(202);
  });

  it('answers 503 when the issuer’s JWKS cannot be read', async () => {
    const response = await fetch(`${noJwks.url}/anything`, {
      headers: { authorization: `Bearer ${await jwks.token({ sub: 'alice' })}` },
    });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { message: string }).message).toMatch(/JWKS at http:\/\/127\.0\.0\.1:1/);
  });
});

describe('who decided, with a JWT (memory bus)', () => {
  const mesh = new InProcessMesh();
  const jwks = new JwksServer();
  let orchestrator: AgentProcess;

  beforeAll(async () => {
    await jwks.start();
    // one orchestrator: a root approval step sends no work
    orchestrator = await startAgent(mesh, {
      role: 'orchestrator',
      instanceId: 'jwt-approver',
      env: {
        MESH_JWT_ISSUER: ISSUER,
        MESH_JWT_JWKS_URL: `${jwks.url}/.well-known/jwks.json`,
        MESH_JWT_AUDIENCE: AUDIENCE,
      },
    });
  });
  afterAll(async () => {
    await mesh.stopAll();
    await jwks.stop();
  });

  it('an approval decided with a JWT records its subject as who decided (sub:<subject>), never the token', async () => {
    const submitter = await jwks.token({ sub: 'alice' });
    const approver = await jwks.token({ sub: 'carol' });
    const id = await new WorkflowClient(orchestrator.url, { token: submitter }).submit({
      step: { kind: 'approval', prompt: 'Go?' },
    });
    const client = new WorkflowClient(orchestrator.url, { token: approver });
    await client.awaitingApproval(id, 'root');
    expect((await client.decide(id, 'root', { approve: true, comment: 'fine' })).status).toBe(202);
    const workflow = await client.finished(id);
    expect(workflow.status).toBe('completed');
    expect(workflow.steps.find((s) => s.path === 'root')?.output).toMatchObject({ approved: true, by: 'sub:carol' });
    expect(workflow.timeline.find((e) => e.type === 'approval.decided')?.detail).toBe('approved by sub:carol: fine');
    expect(JSON.stringify(workflow)).not.toContain(approver);
  });
});
