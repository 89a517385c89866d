import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InProcessMesh, startAgents, WORKFLOW_ROLES, type AgentProcess } from '@agent-mesh/testing';
import { PatternSkills } from './support/pattern-scenarios';

/**
 * The HTTP API's keys (MESH_API_KEYS, `Authorization: Bearer <key>`): 401 without a key or with a
 * wrong one, the route's answer with a right one; /health stays open. Without keys, an agent
 * listens on 127.0.0.1 only.
 */
describe('API keys (memory bus)', () => {
  const mesh = new InProcessMesh();
  const skills = new PatternSkills();
  const KEYS = ['k1-0123456789abcdef', 'k2-fedcba9876543210'];
  let keyed: AgentProcess[];
  let open: AgentProcess;

  beforeAll(async () => {
    const env = { MESH_API_KEYS: KEYS.join(',') };
    keyed = await startAgents(mesh, WORKFLOW_ROLES, () => ({ skills: skills.registry(), env }));
    open = await mesh.start({ role: 'orchestrator-open', modules: [], instanceId: 'open-1' });
  });
  afterAll(() => mesh.stopAll());

  const submit = (key?: string) =>
    fetch(`${keyed[0].url}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ step: { kind: 'task', skill: 'count', input: { id: 'k', text: 'two words' } } }),
    });

  it('answers 401 without a key or with a wrong one, and the route’s answer with a right one', async () => {
    const none = await submit();
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(((await none.json()) as { message: string }).message).toMatch(/Authorization: Bearer/);
    expect((await submit('k3-not-one-of-the-keys')).status).toBe(401);
    for (const key of KEYS) expect((await submit(key)).status).toBe(202);
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
});
