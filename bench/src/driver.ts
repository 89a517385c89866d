/**
 * How the benchmarks drive a mesh: workflows are submitted over HTTP (POST /workflows, as a
 * client would) and their end is observed on the bus — a subscription of the benchmark's own on
 * `workflow.events` that sees each terminal event, `workflow.completed` and the ends that are not (read from the message
 * properties, no payload decoding). Closed-loop submitters keep a fixed number in flight.
 */
import { Agent, request } from 'node:http';
import type { Consumer, EventBus, BusMessage } from '@agent-mesh/bus';
import { EnvelopeProperties, qualifyTopic, Topics, type TopicNaming } from '@agent-mesh/contracts';

const keepAlive = new Agent({ keepAlive: true, maxSockets: 256 });
/** Every workflow ends with exactly one of these; all but `workflow.completed` count as failed here. */
const TERMINAL_TYPES = new Set([
  'workflow.completed',
  'workflow.failed',
  'workflow.compensated',
  'workflow.cancelled',
  'workflow.timed-out',
]);

export interface HttpReply {
  readonly status: number;
  readonly body: string;
}

/** POST a JSON body over a keep-alive connection. */
export function postJson(url: string, body: unknown, timeoutMs = 30_000): Promise<HttpReply> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: keepAlive,
        headers: { 'content-type': 'application/json', 'content-length': payload.length },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`POST ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

export type EndStatus = 'completed' | 'failed';

export interface WorkflowEnd {
  readonly status: EndStatus;
  /** process.hrtime.bigint() when the observer received the end event. */
  readonly at: bigint;
}

interface Waiter {
  readonly resolve: (end: WorkflowEnd) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Sees every workflow end on `workflow.events` through a subscription of its own. */
export class CompletionObserver {
  private readonly waiters = new Map<string, Waiter>();
  /** Ends that arrived before anyone waited (a fast workflow can beat its own HTTP reply). */
  private readonly early = new Map<string, WorkflowEnd>();
  private consumer?: Consumer;
  /** Extra listeners for other topics (e.g. task results for the saga timing). */
  private readonly extra: Consumer[] = [];

  constructor(
    private readonly bus: EventBus,
    private readonly naming: TopicNaming,
    private readonly subscription = 'bench-observer',
  ) {}

  async start(): Promise<void> {
    this.consumer = await this.bus.subscribe(
      {
        topic: qualifyTopic(this.naming, Topics.workflowEvents),
        subscription: this.subscription,
        type: 'Shared',
        initialPosition: 'latest',
        receiverQueueSize: 1000,
      },
      (message, consumer) => {
        this.onMessage(message);
        void consumer.ack(message).catch(() => undefined);
      },
    );
  }

  /**
   * Also listens on `topic` (own subscription) and hands every message's type, correlation id
   * and receipt time to `listener`.
   */
  async listen(
    shortTopic: string,
    listener: (type: string, correlationId: string, at: bigint, message: BusMessage) => void,
  ): Promise<() => Promise<void>> {
    const consumer = await this.bus.subscribe(
      {
        topic: qualifyTopic(this.naming, shortTopic),
        subscription: `${this.subscription}-${shortTopic.replace(/[^a-zA-Z0-9-]/g, '-')}`,
        type: 'Shared',
        initialPosition: 'latest',
        receiverQueueSize: 1000,
      },
      (message, c) => {
        const at = process.hrtime.bigint();
        const type = message.properties[EnvelopeProperties.eventType] ?? '';
        const correlationId = message.properties[EnvelopeProperties.correlationId] ?? '';
        listener(type, correlationId, at, message);
        void c.ack(message).catch(() => undefined);
      },
    );
    this.extra.push(consumer);
    return async () => {
      const at = this.extra.indexOf(consumer);
      if (at >= 0) this.extra.splice(at, 1);
      await consumer.close();
    };
  }

  /** Resolves when `workflowId` ends; rejects after `timeoutMs`. */
  wait(workflowId: string, timeoutMs: number): Promise<WorkflowEnd> {
    const early = this.early.get(workflowId);
    if (early) {
      this.early.delete(workflowId);
      return Promise.resolve(early);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(workflowId);
        reject(new Error(`workflow ${workflowId} did not end within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(workflowId, { resolve, reject, timer });
    });
  }

  /** Forgets ends nobody waited for (between phases). */
  reset(): void {
    this.early.clear();
  }

  async close(): Promise<void> {
    for (const waiter of this.waiters.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('observer closed'));
    }
    this.waiters.clear();
    await Promise.allSettled([this.consumer, ...this.extra].map((c) => c?.close()));
  }

  private onMessage(message: BusMessage): void {
    const type = message.properties[EnvelopeProperties.eventType];
    if (type === undefined || !TERMINAL_TYPES.has(type)) return;
    const at = process.hrtime.bigint();
    const id = message.properties[EnvelopeProperties.correlationId];
    if (!id) return;
    const end: WorkflowEnd = { status: type === 'workflow.completed' ? 'completed' : 'failed', at };
    const waiter = this.waiters.get(id);
    if (!waiter) {
      if (this.early.size < 100_000) this.early.set(id, end);
      return;
    }
    this.waiters.delete(id);
    clearTimeout(waiter.timer);
    waiter.resolve(end);
  }
}

/** A mesh the workflow benchmarks can drive: an orchestrator URL and an observer. */
export interface WorkflowTarget {
  readonly name: string;
  readonly orchestratorUrl: string;
  readonly observer: CompletionObserver;
}

export interface RunResult {
  readonly id: string;
  readonly status: EndStatus;
  /** Submit start (before the POST) → end event received, in ns. */
  readonly latencyNs: bigint;
  readonly startedAt: bigint;
  readonly endedAt: bigint;
}

/** Submits one workflow and waits for its end. */
export async function runWorkflow(target: WorkflowTarget, body: unknown, timeoutMs: number): Promise<RunResult> {
  const startedAt = process.hrtime.bigint();
  const reply = await postJson(`${target.orchestratorUrl}/workflows`, body);
  if (reply.status !== 202)
    throw new Error(`${target.name}: POST /workflows answered ${reply.status}: ${reply.body.slice(0, 500)}`);
  const { workflowId } = JSON.parse(reply.body) as { workflowId: string };
  const end = await target.observer.wait(workflowId, timeoutMs);
  return { id: workflowId, status: end.status, latencyNs: end.at - startedAt, startedAt, endedAt: end.at };
}

export interface LoadOptions {
  /** Workflows kept in flight (closed-loop submitters). */
  readonly concurrency: number;
  /** Not counted: the load ramps up and queues fill. */
  readonly warmupMs: number;
  /** The measured window. */
  readonly durationMs: number;
  /** Bound on one workflow. */
  readonly timeoutMs: number;
  /** Body of the n-th submission. */
  readonly body: (n: number) => unknown;
}

export interface LoadResult {
  /** Workflows that ended (completed) inside the window. */
  readonly completed: number;
  readonly failed: number;
  readonly windowSeconds: number;
  /** Completed workflows per second in the window. */
  readonly perSecond: number;
  /** Latencies of the workflows that ended inside the window. */
  readonly latenciesNs: bigint[];
  /** Errors (timeouts, refused submissions), first few. */
  readonly errors: string[];
  /** Every workflow that completed, warm-up and drain included (for CPU per workflow). */
  readonly total: number;
}

/** One unit of closed-loop work: resolves with when it ended and whether it succeeded. */
export type Runner = (
  n: number,
) => Promise<{ readonly ok: boolean; readonly latencyNs: bigint; readonly endedAt: bigint }>;

/**
 * Saturation: `concurrency` submitters, each starting its next workflow when the previous one
 * ended, for warmup + duration. Counts what ended inside the measured window, then lets the
 * ones still in flight finish (so the next measurement starts from a quiet system).
 */
export async function closedLoopOf(run: Runner, options: Omit<LoadOptions, 'body' | 'timeoutMs'>): Promise<LoadResult> {
  const t0 = process.hrtime.bigint();
  const windowStart = t0 + BigInt(options.warmupMs) * 1_000_000n;
  const windowEnd = windowStart + BigInt(options.durationMs) * 1_000_000n;
  let sequence = 0;
  let completed = 0;
  let failed = 0;
  let total = 0;
  const latencies: bigint[] = [];
  const errors: string[] = [];
  const submitter = async (): Promise<void> => {
    while (process.hrtime.bigint() < windowEnd) {
      try {
        const result = await run(sequence++);
        if (result.ok) total++;
        if (result.endedAt >= windowStart && result.endedAt <= windowEnd) {
          if (result.ok) {
            completed++;
            latencies.push(result.latencyNs);
          } else failed++;
        }
      } catch (error) {
        failed++;
        if (errors.length < 5) errors.push(error instanceof Error ? error.message : String(error));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, () => submitter()));
  const windowSeconds = options.durationMs / 1000;
  return {
    completed,
    failed,
    windowSeconds,
    perSecond: completed / windowSeconds,
    latenciesNs: latencies,
    errors,
    total,
  };
}

/** closedLoopOf for mesh workflows submitted over HTTP. */
export async function closedLoop(target: WorkflowTarget, options: LoadOptions): Promise<LoadResult> {
  const result = await closedLoopOf(async (n) => {
    const r = await runWorkflow(target, options.body(n), options.timeoutMs);
    return { ok: r.status === 'completed', latencyNs: r.latencyNs, endedAt: r.endedAt };
  }, options);
  target.observer.reset();
  return result;
}

/**
 * A fixed amount of work: `count` workflows by `concurrency` submitters; the rate is count over
 * the time from the first submission to the last end (for workflows too long for a window).
 */
export async function fixedCount(
  target: WorkflowTarget,
  count: number,
  concurrency: number,
  body: (n: number) => unknown,
  timeoutMs: number,
): Promise<LoadResult> {
  let next = 0;
  const latencies: bigint[] = [];
  let failed = 0;
  const errors: string[] = [];
  const started = process.hrtime.bigint();
  const submitter = async (): Promise<void> => {
    while (next < count) {
      const n = next++;
      try {
        const r = await runWorkflow(target, body(n), timeoutMs);
        if (r.status === 'completed') latencies.push(r.latencyNs);
        else failed++;
      } catch (error) {
        failed++;
        if (errors.length < 5) errors.push(error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, () => submitter()));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  target.observer.reset();
  return {
    completed: latencies.length,
    failed,
    windowSeconds: seconds,
    perSecond: latencies.length / seconds,
    latenciesNs: latencies,
    errors,
    total: latencies.length,
  };
}

/** Ten short documents; branch i of workflow n gets a slightly different text. */
const TEXTS = [
  'Solar panels on the school roof now cover most of the building daytime power, and the school sells the surplus.',
  'The river flooded the lower fields twice this spring, ruining the early crops and washing out the farm road.',
  'Volunteers repaired the old footbridge over the river, and the village celebrated the reopening with a fair.',
  'A new bus line links the hospital to the station every fifteen minutes, from early morning to midnight.',
  'Quarterly revenue grew twelve percent on strong demand in the region, while customer churn fell to a record low.',
  'The library extended its opening hours and added a reading room for students preparing for their exams.',
  'Heavy snow closed the mountain pass for three days; the road crews cleared it with help from the army.',
  'The city council approved a budget for new cycle lanes along the harbour and the main shopping street.',
  'Researchers found that the old oak forest stores more carbon than the young plantation planted beside it.',
  'The bakery on the corner now opens at six, and its sourdough sells out before the morning rush ends.',
];

export function documents(count: number, n: number): { id: string; text: string }[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `d${i}`,
    text: `${TEXTS[(i + n) % TEXTS.length]} Item ${n}-${i}.`,
  }));
}

/**
 * Short documents (~60 characters), so that 1,000 of them fit the orchestrator's HTTP body
 * limit (express's default 100 kB).
 */
export function shortDocuments(count: number, n: number): { id: string; text: string }[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `d${i}`,
    text: `${TEXTS[(i + n) % TEXTS.length].slice(0, 48)} ${n}-${i}`,
  }));
}

/** The plain fan-out body: keywords over `branches` documents (short ones with `short`). */
export function fanOutBody(branches: number, n: number, short = false): unknown {
  return { skill: 'keywords', inputs: short ? shortDocuments(branches, n) : documents(branches, n) };
}
