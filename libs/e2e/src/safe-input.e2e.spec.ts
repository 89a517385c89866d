import { InProcessMesh, startAgents, WORKFLOW_ROLES, WorkflowClient, type AgentProcess } from '@agent-mesh/testing';
import { MAX_INPUT_TEXT } from '@agent-mesh/contracts';
import { PatternSkills } from './support/pattern-scenarios';

const doc = (id: string, text: string) => ({ id, text });

/** Whether anything was written onto a built-in prototype (what a polluting key would do). */
function pollutedPrototypes(): string[] {
  const names = ['polluted', 'isAdmin'];
  return [Object.prototype, Array.prototype, Function.prototype].flatMap((prototype) =>
    Object.getOwnPropertyNames(prototype).filter((name) => names.includes(name)),
  );
}

/**
 * What a client's spec can do to the orchestrator (issue 11): a key `__proto__`, `constructor` or
 * `prototype` anywhere in a spec is refused 400 and pollutes nothing; a gate's catastrophic
 * pattern runs in linear time while /health keeps answering within 100 ms.
 */
describe('safe input from clients (memory bus)', () => {
  const mesh = new InProcessMesh();
  const skills = new PatternSkills();
  let agents: AgentProcess[];
  let client: WorkflowClient;

  beforeAll(async () => {
    agents = await startAgents(mesh, WORKFLOW_ROLES, () => ({ skills: skills.registry() }));
    client = new WorkflowClient(agents[0].url, { timeoutMs: 30_000 });
  });
  afterAll(() => mesh.stopAll());

  const task = '{"kind":"task","skill":"count","input":{"id":"p","text":"two words"}}';
  // JSON.stringify drops a real __proto__ key, so the bodies are written as text, as an attacker would.
  it.each([
    ['__proto__ at the top', `{"__proto__":{"polluted":true},"step":${task}}`, '__proto__'],
    [
      '__proto__ in a task input',
      '{"step":{"kind":"task","skill":"count","input":{"id":"p","text":"t","__proto__":{"isAdmin":true}}}}',
      '__proto__',
    ],
    [
      'constructor.prototype in params',
      '{"step":{"kind":"task","skill":"count","input":{"id":"p","text":"t"},"params":{"constructor":{"prototype":{"polluted":true}}}}}',
      'constructor',
    ],
    [
      'prototype in a fan-out',
      '{"skill":"count","inputs":[{"id":"p","text":"t","prototype":{"polluted":1}}]}',
      'prototype',
    ],
  ])('refuses %s with 400 naming the body, and pollutes nothing', async (_label, body, key) => {
    const response = await fetch(`${agents[0].url}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const answer = JSON.stringify(await response.json());
    expect(response.status).toBe(400);
    expect(answer).toContain('"field":"body"');
    expect(answer).toContain(`forbidden key \\"${key}\\"`);
    expect(pollutedPrototypes()).toEqual([]);
    // the orchestrator serves the next client as before
    expect((await client.run({ step: JSON.parse(task) as object })).status).toBe('completed');
    expect(pollutedPrototypes()).toEqual([]);
  });

  // Backtracking RegExps take 2^n (`(a+)+$`) or n^20 (`(.*a){20}$`) steps on "aaa…a !"; RE2, one
  // pass — on its DFA (gatePatternMatches): its capturing NFA took 1.3 s here, /health with it.
  // A bound in wall-clock time: a machine loaded many times over its cores can miss it, hence the retries.
  jest.retryTimes(2, { logErrorsBeforeRetry: true });
  it.each([
    ['(a+)+$', 5_000],
    ['(a+)+$', MAX_INPUT_TEXT],
    ['(.*a){20}$', MAX_INPUT_TEXT],
  ])(
    'runs the catastrophic gate pattern %s over a %i-character output in linear time, /health answering within 100 ms',
    async (pattern, length) => {
      const chain = (gatePattern: string) => ({
        step: {
          kind: 'chain',
          stages: [
            {
              step: { kind: 'task', skill: 'append', input: doc('re', 'a'.repeat(length - 2)), params: { word: '!' } },
              gate: { checks: [{ field: 'text', op: 'matches', value: gatePattern }], onFail: { action: 'fail' } },
            },
            { step: { kind: 'task', skill: 'count', inputFrom: { source: 'previous', field: 'text' } } },
          ],
        },
      });
      // Warm up on the same path with a plain pattern, so what is measured is the pattern's own cost.
      await client.run(chain('zz'));
      const ids = [await client.submit(chain(pattern)), await client.submit(chain(pattern))];
      const latencies: number[] = [];
      let done = false;
      const probing = (async () => {
        while (!done) {
          const started = performance.now();
          const response = await fetch(`${agents[0].url}/health`);
          await response.arrayBuffer();
          latencies.push(performance.now() - started);
          expect(response.status).toBe(200);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      const ended = await Promise.all(ids.map((id) => client.finished(id)));
      done = true;
      await probing;
      for (const workflow of ended) {
        expect(workflow.status).toBe('failed');
        expect(workflow.reason).toContain(`does not match /${pattern}/`);
      }
      const slowest = Math.max(...latencies);
      process.stdout.write(
        `gate ${pattern} over ${length} chars: ${latencies.length} /health probes, slowest ${slowest.toFixed(1)} ms\n`,
      );
      expect(slowest).toBeLessThan(100);
    },
  );
});
