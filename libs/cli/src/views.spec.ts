import type { AgentHeartbeat } from '@agent-mesh/contracts';
import type { WorkflowView } from './api';
import type { CliOutput } from './command';
import { isTailTopic, readEvent, tailLine } from './commands/tail';
import { LiveView, stripAnsi, styles } from './live-view';
import { MeshTop } from './mesh-top';
import { progressLine, stepCount, workflowReport } from './workflow-format';

/** An output that records what a terminal would be sent, or the plain lines of a pipe. */
function recorder(terminal: boolean): { output: CliOutput; written: string[]; lines: string[] } {
  const written: string[] = [];
  const lines: string[] = [];
  const output: CliOutput = {
    out: (line) => lines.push(line),
    err: (line) => lines.push(`ERR ${line}`),
    terminal: terminal ? { write: (text) => written.push(text), columns: 20, rows: 10 } : undefined,
  };
  return { output, written, lines };
}

describe('LiveView', () => {
  it('on a terminal redraws the block in place, log lines above it, lines cut to the width', () => {
    const { output, written, lines } = recorder(true);
    const view = new LiveView(output);
    view.render(['running 1/3']);
    view.log('event one');
    view.render(['running 2/3', 'a line far wider than twenty columns']);
    expect(lines).toEqual([]);
    expect(written).toEqual([
      'running 1/3\n',
      '\u001b[1F\u001b[J',
      'event one\n',
      'running 1/3\n',
      '\u001b[1F\u001b[J',
      'running 2/3\na line far wider th…\u001b[0m\n',
    ]);
  });

  it('elsewhere prints plain lines, only those that changed', () => {
    const { output, written, lines } = recorder(false);
    const view = new LiveView(output);
    view.render(['running 1/3', 'agent a 0']);
    view.render(['running 1/3', 'agent a 0']);
    view.log('event one');
    view.render(['running 2/3', 'agent a 0']);
    expect(written).toEqual([]);
    expect(lines).toEqual(['running 1/3', 'agent a 0', 'event one', 'running 2/3']);
  });

  it('styles only on a terminal, and not with NO_COLOR', () => {
    expect(styles(recorder(true).output, {}).red('x')).toBe('\u001b[31mx\u001b[39m');
    expect(styles(recorder(true).output, { NO_COLOR: '1' }).red('x')).toBe('x');
    expect(styles(recorder(false).output, {}).red('x')).toBe('x');
  });
});

describe('workflow progress', () => {
  const plain = styles(recorder(false).output, {});

  it('counts the steps of a spec (a plain fan-out is one)', () => {
    expect(stepCount({ skill: 'keywords', inputs: [] })).toBe(1);
    expect(
      stepCount({
        step: {
          kind: 'chain',
          stages: [{ step: { kind: 'task', skill: 'a' } }, { step: { kind: 'task', skill: 'b' } }],
        },
      }),
    ).toBe(3);
    expect(stepCount('nonsense')).toBeUndefined();
  });

  it('says the status, steps done of all, branches ended (failed ones apart) and the time', () => {
    const view = {
      id: 'w',
      status: 'running',
      submittedAt: '2026-01-01T00:00:00.000Z',
      steps: [
        { path: 'root', kind: 'chain', status: 'running', attempt: 1, startedAt: '' },
        { path: 'root.stages.0', kind: 'fan-out', status: 'running', attempt: 1, startedAt: '' },
      ],
      branches: [
        { stepPath: 'root.stages.0', index: 0, inputId: 'a', status: 'completed', attempt: 1 },
        { stepPath: 'root.stages.0', index: 1, inputId: 'b', status: 'failed', attempt: 1 },
        { stepPath: 'root.stages.0', index: 2, inputId: 'c', status: 'pending', attempt: 1 },
      ],
      timeline: [],
    } as unknown as WorkflowView;
    expect(progressLine(view, plain, 3, Date.parse('2026-01-01T00:00:01.500Z'))).toBe(
      'running  steps 0/3  branches 2/3 (1 failed)  at root.stages.0  1.50 s',
    );
  });

  it('status shows the usage of the workflow and of each step, and the steps waiting for approval', () => {
    const usage = { promptTokens: 1000, completionTokens: 250, costUsd: 0.0125, calls: 3 };
    const view = {
      id: 'w',
      status: 'running',
      submittedAt: '2026-01-01T00:00:00.000Z',
      usage,
      steps: [
        { path: 'root', kind: 'chain', status: 'running', attempt: 1, startedAt: '', usage },
        {
          path: 'root.stages.1',
          kind: 'approval',
          status: 'running',
          attempt: 1,
          startedAt: '',
          awaiting: { what: 'approval', prompt: 'Publish?' },
        },
      ],
      branches: [],
      timeline: [],
    } as unknown as WorkflowView;
    const lines = workflowReport(view, plain, Date.parse('2026-01-01T00:00:01.500Z'));
    expect(lines).toContain('usage      1,250 tokens (1,000 prompt + 250 completion), 3 calls, $0.0125');
    expect(lines).toContain('  root  chain  running  1,250 tokens (1,000 prompt + 250 completion), 3 calls, $0.0125');
    expect(lines).toContain('  root.stages.1  approval  awaiting approval');
    expect(lines.slice(lines.indexOf('awaiting approval'))).toEqual([
      'awaiting approval',
      '  root.stages.1  Publish?',
      '    mesh approve w root.stages.1 [--reject] [--comment "..."]',
      'steps',
      expect.any(String),
      expect.any(String),
    ]);
  });
});

describe('mesh top', () => {
  const plain = styles(recorder(false).output, {});
  const beat = (at: number, handled: number, extra: Partial<AgentHeartbeat> = {}): AgentHeartbeat => ({
    agentId: 'worker@w-1',
    role: 'worker',
    region: 'us',
    pid: 1,
    startedAt: new Date(0).toISOString(),
    at: new Date(at).toISOString(),
    counters: { handled, failed: 0, deadLettered: 0, inFlight: 0 },
    ...extra,
  });

  it('rates an agent from its last two heartbeats, not across a restart', () => {
    const top = new MeshTop();
    top.heartbeat(beat(10_000, 100));
    top.heartbeat(beat(12_000, 150));
    expect(top.lines(plain, false)[0]).toMatch(/^agent worker@w-1 +worker +us +150 +25\.0 /);
    top.heartbeat(beat(14_000, 3, { startedAt: new Date(13_000).toISOString() }));
    expect(top.lines(plain, false)[0]).toMatch(/^agent worker@w-1 +worker +us +3 +- /);
  });

  it('shows the workers’ subscriptions and any with a backlog, and fits the terminal', () => {
    const top = new MeshTop();
    const sub = (topic: string, subscription: string, backlog: number) => ({
      topic,
      subscription,
      backlog,
      msgRateOut: 0,
    });
    top.brokerStats({
      at: new Date(0).toISOString(),
      broker: 'pulsar',
      deadLetters: 0,
      subscriptions: [
        sub('tasks.keywords', 'workers', 0),
        sub('tasks.keywords-workers-RETRY', 'workers', 0),
        sub('market.asks', 'market-maker', 0),
        sub('task.results', 'aggregator', 4),
      ],
    });
    expect(top.lines(plain, false).filter((line) => line.startsWith('backlog'))).toEqual([
      expect.stringMatching(/^backlog task\.results \(aggregator\) +4 /),
      expect.stringMatching(/^backlog tasks\.keywords \(workers\) +0 /),
    ]);
    const live = top.lines(plain, true, 0);
    expect(live.at(-1)).toBe('(2 more subscriptions, none with a backlog)');
    const cut = top.lines(plain, true, 0, 4);
    expect(cut).toHaveLength(4);
    expect(cut[3]).toBe('… 4 more lines (a taller terminal shows them)');
  });

  it('marks an agent silent after three of its periods without a heartbeat', () => {
    const top = new MeshTop();
    top.heartbeat(beat(10_000, 1));
    top.heartbeat(beat(12_000, 1));
    expect(stripAnsi(top.lines(plain, true, 17_000).join('\n'))).not.toMatch(/SILENT/);
    const late = top.lines(plain, true, 18_500);
    expect(late[0]).toMatch(/agents 0 \(1 silent\)/);
    expect(late[2]).toMatch(/SILENT$/);
  });
});

describe('mesh tail', () => {
  it('follows workflow, saga and task topics, not retry or dead-letter ones', () => {
    for (const topic of ['workflow.events', 'saga.events', 'task.results', 'task.results.saga', 'tasks.keywords']) {
      expect(isTailTopic(topic)).toBe(true);
    }
    for (const topic of ['tasks.keywords-workers-RETRY', 'mesh.dlq', 'mesh.agents', 'timers', 'tasks.x-partition-0']) {
      expect(isTailTopic(topic)).toBe(false);
    }
  });

  it('shows an envelope in one line, and what it can of a message that is none', () => {
    const envelope = {
      type: 'task.completed',
      correlationId: 'wf-1',
      source: 'worker@w',
      data: { taskId: 'wf-1:root:0:1', worker: 'worker@w', durationMs: 12, output: { big: true } },
    };
    const message = {
      topic: 'persistent://t/n/task.results',
      messageId: '1',
      payload: Buffer.from(JSON.stringify(envelope)),
      properties: {},
      publishTime: Date.parse('2026-01-01T12:00:00.250Z'),
      redeliveryCount: 0,
    };
    expect(tailLine(readEvent(message), styles(recorder(false).output, {}))).toBe(
      '12:00:00.250  task.results  task.completed  wf-1  worker@w  taskId=wf-1:root:0:1 worker=worker@w durationMs=12',
    );
    const junk = { ...message, payload: Buffer.from('not json'), key: 'k', properties: { 'mesh.event-type': 'x.y' } };
    expect(readEvent(junk)).toMatchObject({ type: 'x.y', correlationId: 'k', unreadable: 'not JSON (8 bytes)' });
  });
});
