import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  MarketAskV1,
  MarketBidV1,
  MarketFillV1,
  stepWorkKey,
  Topics,
  type EventEnvelope,
  type MarketAsk,
  type MarketFill,
} from '@agent-mesh/contracts';
import { OnMeshEvent, type MeshPublisher } from '@agent-mesh/nest-pulsar';
import { MESH_CONFIG, SKILL_REGISTRY, type MeshConfig } from '@agent-mesh/runtime';
import type { SkillRegistry } from '@agent-mesh/skills';
import { TaskRunner, WORKER_MAX_REDELIVER } from '../task-runner';
import { bidPriceFactor, quoteBid } from './bid-pricing';

/** Per-process subscriptions: every worker sees every ask and every fill, from when it started. */
const BIDDER = 'bidder-{instance}';
/** Fill ids this worker finished, remembered to drop a re-published fill (bounded). */
const REMEMBERED_FILLS = 1000;

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
export class BiddingController {
  private readonly publisher: MeshPublisher;
  private readonly factor: number;
  private readonly capabilities: ReadonlySet<string>;
  private readonly running = new Set<string>();
  private readonly finished = new Set<string>();
  private inFlight = 0;

  constructor(
    private readonly runner: TaskRunner,
    @Inject(SKILL_REGISTRY) skills: SkillRegistry,
    @Inject(MESH_CONFIG) config: MeshConfig,
  ) {
    this.publisher = runner.publisher;
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

  @OnMeshEvent(MarketAskV1, {
    topic: Topics.marketAsks,
    subscription: BIDDER,
    type: 'Exclusive',
    initialPosition: 'latest',
  })
  async onAsk(@Payload() event: EventEnvelope<MarketAsk>): Promise<void> {
    const ask = event.data;
    if (!this.capabilities.has(ask.market) || ask.expiresAt <= Date.now()) return;
    const quote = quoteBid({
      skill: ask.market,
      textLength: ask.input.text.length,
      load: this.inFlight,
      factor: this.factor,
    });
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
  async onFill(@Payload() event: EventEnvelope<MarketFill>): Promise<void> {
    const fill = event.data;
    if (fill.workerId !== this.workerId) return;
    // A fill the market maker re-published (after a crash) is the same work: done once here.
    if (this.finished.has(fill.fillId) || this.running.has(fill.fillId)) return;
    this.running.add(fill.fillId);
    this.inFlight += 1;
    try {
      await this.work(event);
      this.remember(fill.fillId);
    } finally {
      this.inFlight -= 1;
      this.running.delete(fill.fillId);
    }
  }

  private async work(event: EventEnvelope<MarketFill>): Promise<void> {
    const fill = event.data;
    const ref = {
      taskId: `${fill.askId}:fill`,
      branchIndex: 0,
      branchCount: 1,
      skill: fill.market,
      stepPath: fill.stepPath,
      attempt: fill.attempt ?? 1,
    };
    // Every round and attempt of the step's asks is the same work: one key for them all.
    const workKey = stepWorkKey(event.correlationId, fill.stepPath);
    await this.runner.run(ref, { input: fill.input, params: fill.params, workKey }, event);
  }

  private remember(fillId: string): void {
    this.finished.add(fillId);
    if (this.finished.size > REMEMBERED_FILLS) {
      const oldest = this.finished.values().next();
      if (!oldest.done) this.finished.delete(oldest.value);
    }
  }
}
