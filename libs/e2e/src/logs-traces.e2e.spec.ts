import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { freePort, OtlpReceiver, WorkflowClient } from '@agent-mesh/testing';
import { AgentProcess, appCommand } from '@agent-mesh/topology';
import { named, parentOf, SpanKinds, spanCounts, submitTraced, workflowTrace } from './support/traces';

const WORKSPACE = join(__dirname, '../../..');

/** A log line as pino writes it, with the fields the mesh adds about the message being handled. */
interface LogLine {
  level: number;
  msg: string;
  context?: string;
  correlationId?: string;
  eventId?: string;
  eventType?: string;
  topic?: string;
  subscription?: string;
  agent?: string;
  traceId?: string;
  spanId?: string;
}

/*
 * The embedded mesh (`mesh --serve`, every role in one process on the memory bus) as a real
 * process with LOG_LEVEL=debug and an OTLP endpoint: its stdout is JSON lines carrying the
 * message's fields, and a fan-out is one trace. Across processes on the broker: tracing.pulsar.spec.ts.
 */
describe('logs and traces of an agent process (embedded mesh, memory bus)', () => {
  const receiver = new OtlpReceiver();
  let mesh: AgentProcess;

  beforeAll(async () => {
    execFileSync(process.execPath, ['tools/build-app.js', 'mesh'], { cwd: WORKSPACE, stdio: 'pipe' });
    const endpoint = await receiver.start();
    // Not a process of the topology (every role in one): started as its processes are, from its build.
    const port = await freePort();
    mesh = new AgentProcess({
      name: 'mesh',
      service: 'mesh',
      region: 'local',
      command: [...appCommand('mesh'), '--serve'],
      env: {
        PORT: String(port),
        LOG_LEVEL: 'debug',
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_BSP_SCHEDULE_DELAY: '200', // export within a moment, not the default 5 s
        MESH_INSTANCE_ID: 'obs-1',
      },
      port,
    });
    await mesh.start(30_000);
  }, 120_000);

  afterAll(async () => {
    await mesh?.stop();
    await receiver.close();
  });

  const lines = (): LogLine[] =>
    mesh
      .output()
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        try {
          return JSON.parse(line) as LogLine;
        } catch {
          throw new Error(`not a JSON log line: ${line}`);
        }
      });

  it('runs a fan-out as one trace: HTTP submit, publishes, handlers and skill runs, each child of its cause', async () => {
    const inputs = [
      { id: 'a', text: 'Solar panels on the school roof cover the daytime power.' },
      { id: 'b', text: 'The river flooded the lower fields twice this spring.' },
    ];
    const { workflowId, traceId } = await submitTraced(mesh.url, { skill: 'keywords', inputs });
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect((await new WorkflowClient(mesh.url).finished(workflowId)).status).toBe('completed');

    const spans = await workflowTrace(receiver, workflowId, traceId, {
      'publish workflow.completed': 1,
      'skill keywords': 2,
      'publish task.completed': 2,
    });
    const counts = spanCounts(spans);
    expect(counts).toMatchObject({
      'POST /workflows': 1,
      'publish workflow.submitted': 1,
      'publish task.assigned': 2,
      'process task.assigned': 2,
      'skill keywords': 2,
      'publish task.completed': 2,
    });
    for (const skill of named(spans, 'skill keywords')) {
      expect(skill.attributes).toMatchObject({ 'mesh.skill.name': 'keywords', 'mesh.correlation_id': workflowId });
      expect(String(skill.attributes['mesh.task.id'])).not.toBe('');
      const handler = parentOf(spans, skill)!;
      expect([handler.name, handler.kind]).toEqual(['process task.assigned', SpanKinds.consumer]);
      const publish = parentOf(spans, handler)!;
      expect([publish.name, publish.kind]).toEqual(['publish task.assigned', SpanKinds.producer]);
    }
    for (const result of named(spans, 'publish task.completed'))
      expect(parentOf(spans, result)?.name).toBe('process task.assigned');
    for (const handled of named(spans, 'process task.completed'))
      expect(parentOf(spans, handled)?.name).toBe('publish task.completed');
    expect(new Set(spans.map((span) => span.service))).toEqual(new Set(['agent-mesh-mesh']));
  });

  it('writes JSON lines only, those about a message carrying its workflow, event, type, topic, agent and trace', async () => {
    const { workflowId, traceId } = await submitTraced(mesh.url, {
      skill: 'sentiment',
      inputs: [{ id: 'x', text: 'A lovely day.' }],
    });
    expect((await new WorkflowClient(mesh.url).finished(workflowId)).status).toBe('completed');
    const handled = lines().filter((line) => line.correlationId === workflowId && line.msg === 'task.assigned handled');
    expect(handled).toHaveLength(1);
    expect(handled[0]).toMatchObject({
      level: 20, // debug
      context: 'MeshTransport',
      eventType: 'task.assigned',
      topic: expect.stringMatching(/tasks\.sentiment$/),
      subscription: 'workers',
      agent: 'mesh@obs-1',
      traceId,
      eventId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      spanId: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    // Every event of the workflow a handler took is logged so, and Nest's own lines are JSON too.
    const types = new Set(
      lines()
        .filter((line) => line.correlationId === workflowId)
        .map((line) => line.eventType),
    );
    expect([...types]).toEqual(expect.arrayContaining(['workflow.submitted', 'task.assigned', 'task.completed']));
    expect(lines().some((line) => line.context === 'NestApplication')).toBe(true);
  });
});
