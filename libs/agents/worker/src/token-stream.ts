import { Logger } from '@nestjs/common';
import { describeError, TaskTokenV1, Topics, type EventEnvelope } from '@agent-mesh/contracts';
import type { MeshPublisher } from '@agent-mesh/nest-pulsar';

/** Pieces a skill emits within this long go out as one `task.token` (one LLM answer is not hundreds of messages). */
export const TOKEN_FLUSH_MS = 50;

/** Where one task's tokens go: its workflow's stream topic, and which task and step they belong to. */
export interface TokenStreamTarget {
  readonly workflowId: string;
  readonly taskId: string;
  readonly stepPath?: string;
  readonly cause: EventEnvelope;
}

/**
 * One task's partial output on `workflow.stream.<workflowId>`: `emit` never blocks the skill — it
 * buffers, and the buffer is sent TOKEN_FLUSH_MS after its first piece as one `task.token` with the
 * next `seq` (0, 1, 2, …). Sends are chained, so they arrive in order; a failed send is logged
 * once and the stream stops (the task carries on: tokens are a view, the result is what counts).
 */
export class TokenStream {
  private static readonly log = new Logger('Worker');
  private buffer = '';
  private seq = 0;
  private timer?: NodeJS.Timeout;
  private sending: Promise<void> = Promise.resolve();
  private failed = false;

  constructor(
    private readonly publisher: MeshPublisher,
    private readonly target: TokenStreamTarget,
    private readonly flushMs: number = TOKEN_FLUSH_MS,
  ) {}

  /** The skill's `emit`. */
  readonly emit = (text: string): void => {
    if (this.failed || text === '') return;
    this.buffer += text;
    this.timer ??= setTimeout(() => this.flush(), this.flushMs);
  };

  /** Sends what is buffered, then waits for every send (before the task's result is published). */
  async close(): Promise<void> {
    this.flush();
    await this.sending;
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer === '' || this.failed) return;
    const { taskId, stepPath, workflowId, cause } = this.target;
    const data = { taskId, ...(stepPath === undefined ? {} : { stepPath }), seq: this.seq++, text: this.buffer };
    this.buffer = '';
    this.sending = this.sending.then(async () => {
      if (this.failed) return;
      try {
        await this.publisher.publish(Topics.workflowStream(workflowId), TaskTokenV1, data, {
          correlationId: cause.correlationId,
          causedBy: cause,
        });
      } catch (error) {
        this.failed = true;
        TokenStream.log.warn(`task ${taskId}: streaming its tokens stopped: ${describeError(error)}`);
      }
    });
  }
}
