import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { BusClosedError, type BusMessage, type Reader } from '@agent-mesh/bus';
import {
  describeError,
  EnvelopeProperties,
  qualifyTopic,
  Topics,
  WorkflowCancelledV1,
  WorkflowTimedOutV1,
} from '@agent-mesh/contracts';
import { MESH_TRANSPORT_OPTIONS, type MeshTransportOptions } from '@agent-mesh/nest-pulsar';
import { WorkflowCancelledError } from '@agent-mesh/skills';
import { RunningTasks } from './running-tasks';

/** The terminal events that end a workflow while its work may still be out. */
const ENDS_EARLY: ReadonlySet<string> = new Set([WorkflowCancelledV1.type, WorkflowTimedOutV1.type]);
/** How long one read waits for a message (the loop reads again; close() ends a wait at once). */
const READ_WAIT_MS = 30_000;
/** Pause after a failed read before the next one (the driver reconnects meanwhile). */
const RETRY_PAUSE_MS = 1_000;

/**
 * Tells the worker's RunningTasks when a workflow ends early: `workflow.cancelled` and
 * `workflow.timed-out` on `workflow.events`. Every worker process must see every one of them,
 * so this is a broadcast, not work to share: a Reader from `latest`, not a subscription. A
 * Reader is non-durable — nothing stays on the broker when the process goes (a durable
 * per-instance subscription, like `bidder-<instance>`, would be left behind by every process
 * that ever ran, each keeping a backlog of every workflow event) — and it needs no ack. What
 * it costs: every workflow event reaches every worker; the others are passed over on their
 * `mesh.event-type` property, without decoding. What it misses: a worker sees only the ends
 * published after it started (see RunningTasks for the tasks that arrive later).
 */
@Injectable()
export class WorkflowEndWatcher implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('Worker');
  private reader?: Reader;
  private stopped = false;

  constructor(
    @Inject(MESH_TRANSPORT_OPTIONS) private readonly transport: MeshTransportOptions,
    private readonly tasks: RunningTasks,
  ) {}

  /** Opens the reader before the app takes tasks, so no end published after start-up is missed. */
  async onModuleInit(): Promise<void> {
    const topic = qualifyTopic(this.transport.naming, Topics.workflowEvents);
    this.reader = await this.transport.bus.createReader({ topic, startMessageId: 'latest' });
    void this.follow(this.reader);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.reader?.close().catch(() => undefined);
  }

  private async follow(reader: Reader): Promise<void> {
    while (!this.stopped) {
      try {
        const message = await reader.readNext(READ_WAIT_MS);
        if (message) this.onMessage(message);
      } catch (error) {
        if (this.stopped || error instanceof BusClosedError) return;
        this.log.warn(`reading ${reader.topic} for workflow ends: ${describeError(error)}`);
        await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
      }
    }
  }

  private onMessage(message: BusMessage): void {
    if (!ENDS_EARLY.has(message.properties[EnvelopeProperties.eventType] ?? '')) return;
    const decoded = this.transport.registry.decode(message.payload);
    // Not ours to dead-letter: the orchestrator's subscription does that.
    if (!decoded.ok || !ENDS_EARLY.has(decoded.envelope.type)) return;
    const { envelope } = decoded;
    const reason = (envelope.data as { reason: string }).reason; // both events' data have a reason
    const cancelled = this.tasks.end(new WorkflowCancelledError(envelope.correlationId, envelope.type, reason));
    if (cancelled > 0) this.log.log(`${envelope.type} ${envelope.correlationId}: aborted ${cancelled} running task(s)`);
  }
}
