import { Controller, Inject, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { describeError } from '@agent-mesh/bus';
import {
  MarketAskV1,
  MarketBidV1,
  MarketFillV1,
  TaskCompletedV1,
  TaskFailedV1,
  Topics,
  type EventEnvelope,
  type MarketAsk,
  type MarketFill,
} from '@agent-mesh/contracts';
import { MeshContext, MeshPublisher, OnMeshEvent } from '@agent-mesh/nest-pulsar';
import { MESH_CONFIG, SKILL_REGISTRY, type MeshConfig } from '@agent-mesh/runtime';
import { SkillInputError, type SkillRegistry } from '@agent-mesh/skills';
import { WORKER_MAX_REDELIVER } from '../worker.controller';
import { bidPriceFactor, quoteBid } from './bid-pricing';

/** Per-process subscriptions: every worker sees every ask and every fill, from when it started. */
const BIDDER = 'bidder-{instance}';
/** Fill ids this worker finished, remembered to drop a re-published fill (bounded). */
const REMEMBERED_FILLS = 1000;

class MarketTaskTimeoutError extends Error {
  constructor(ms: number) {
    super(`task did not finish within ${ms} ms (TASK_TIMEOUT_MS)`);
    this.name = 'TaskTimeoutError';
  }
}

/**
 * The worker's side of the market: it bids on every ask for a skill it has, pricing from its
 * own state (the task's size and how many market tasks it is running; see bid-pricing.ts, and
 * BID_PRICE_FACTOR), and when a fill names it, it does the work and reports it on
 * `task.results` like any task (`taskId` `<askId>:fill`, attempt 1), which completes the step.
 *
 * Load counts the market tasks this worker is running; tasks from `tasks.<skill>` run by the
 * WorkerController are not counted.
 */
@Controller()
export class BiddingController implements OnApplicationShutdown {
  private readonly log = new Logger('Bidder');
  private readonly shutdown = new AbortController();
  private readonly publisher: MeshPublisher;
  private readonly factor: number;
  private readonly capabilities: ReadonlySet<string>;
  private readonly running = new Set<string>();
  private readonly finished = new Set<string>();
  private inFlight = 0;

  constructor(
    publisher: MeshPublisher,
    @Inject(SKILL_REGISTRY) private readonly skills: SkillRegistry,
    @Inject(MESH_CONFIG) private readonly config: MeshConfig,
  ) {
    this.publisher = publisher.as('worker');
    this.factor = bidPriceFactor(process.env['BID_PRICE_FACTOR']);
    this.capabilities = new Set((config.workerSkills ?? skills.names()).filter((name) => skills.has(name)));
  }

  /** `worker@<instance>`: the id this worker bids as. */
  get workerId(): string {
    return this.publisher.source;
  }

  /** Market tasks running now. */
  get load(): number {
    return this.inFlight;
  }

  onApplicationShutdown(): void {
    this.shutdown.abort();
  }

  @OnMeshEvent(MarketAskV1, { topic: Topics.marketAsks, subscription: BIDDER, type: 'Exclusive', initialPosition: 'latest' })
  async onAsk(@Payload() event: EventEnvelope<MarketAsk>): Promise<void> {
    const ask = event.data;
    if (!this.capabilities.has(ask.market) || ask.expiresAt <= Date.now()) return;
    const quote = quoteBid({ skill: ask.market, textLength: ask.input.text.length, load: this.inFlight, factor: this.factor });
    // Bids above the budget are still sent: they do not cross, and the market sees the price.
    await this.publisher.publish(
      Topics.marketBids,
      MarketBidV1,
      {
        bidId: `${ask.askId}:${this.workerId}`,
        askId: ask.askId,
        market: ask.market,
        workerId: this.workerId,
        price: quote.price,
        estimatedMs: quote.estimatedMs,
        expiresAt: ask.expiresAt,
      },
      // Keyed by market, like the asks: one market's orders reach the market maker in order.
      { correlationId: event.correlationId, causedBy: event, key: ask.market },
    );
  }

  @OnMeshEvent(MarketFillV1, {
    topic: Topics.marketFills,
    subscription: BIDDER,
    type: 'Exclusive',
    initialPosition: 'latest',
    maxRedeliverCount: WORKER_MAX_REDELIVER,
  })
  async onFill(@Payload() event: EventEnvelope<MarketFill>, @Ctx() context: MeshContext): Promise<void> {
    const fill = event.data;
    if (fill.workerId !== this.workerId) return;
    // A fill the market maker re-published (after a crash) is the same work: done once here.
    if (this.finished.has(fill.fillId) || this.running.has(fill.fillId)) return;
    this.running.add(fill.fillId);
    this.inFlight += 1;
    try {
      await this.work(event, context);
      this.remember(fill.fillId);
    } finally {
      this.inFlight -= 1;
      this.running.delete(fill.fillId);
    }
  }

  private async work(event: EventEnvelope<MarketFill>, context: MeshContext): Promise<void> {
    const fill = event.data;
    const ref = { taskId: `${fill.askId}:fill`, branchIndex: 0, branchCount: 1, skill: fill.market, stepPath: fill.stepPath, attempt: 1 };
    const options = { correlationId: event.correlationId, causedBy: event };
    const started = Date.now();
    try {
      const skill = this.skills.require(fill.market);
      const output = await this.withTimeout((signal) =>
        skill.run({ id: fill.input.id, text: fill.input.text, params: fill.params }, { signal, taskId: ref.taskId }),
      );
      await this.publisher.publish(
        Topics.taskResults,
        TaskCompletedV1,
        { ...ref, inputId: fill.input.id, output, durationMs: Date.now() - started, worker: this.workerId },
        options,
      );
    } catch (error) {
      // The WorkerController's rule: bad input never succeeds; other errors retry until the last delivery.
      const lastDelivery = context.getRedeliveryCount() >= WORKER_MAX_REDELIVER;
      if (!(error instanceof SkillInputError) && !lastDelivery) throw error;
      this.log.warn(`market task ${ref.taskId} failed: ${describeError(error)}`);
      await this.publisher.publish(
        Topics.taskResults,
        TaskFailedV1,
        { ...ref, inputId: fill.input.id, error: describeError(error), worker: this.workerId },
        options,
      );
    }
  }

  private remember(fillId: string): void {
    this.finished.add(fillId);
    if (this.finished.size > REMEMBERED_FILLS) {
      const oldest = this.finished.values().next();
      if (!oldest.done) this.finished.delete(oldest.value);
    }
  }

  private async withTimeout<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const timeoutMs = this.config.taskTimeoutMs;
    const controller = new AbortController();
    const onShutdown = () => controller.abort(this.shutdown.signal.reason);
    this.shutdown.signal.addEventListener('abort', onShutdown, { once: true });
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        work(controller.signal),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const error = new MarketTaskTimeoutError(timeoutMs);
            controller.abort(error);
            reject(error);
          }, timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.shutdown.signal.removeEventListener('abort', onShutdown);
    }
  }
}
