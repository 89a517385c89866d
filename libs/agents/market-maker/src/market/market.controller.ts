import { Controller, Inject, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  describeError,
  MarketAskExpiredV1,
  MarketAskV1,
  MarketBidV1,
  MarketExpiryCheckV1,
  MarketFillV1,
  MarketWindowCloseV1,
  Topics,
  type EventEnvelope,
  type MarketAsk,
  type MarketBid,
  type MarketExpiryCheck,
  type MarketFill,
  type MarketWindowClose,
} from '@agent-mesh/contracts';
import { MeshPublisher, OnMeshEvent } from '@agent-mesh/nest-pulsar';
import { MESH_CLOCK, MESH_CONFIG, STATE_STORE, type MeshClock, type MeshConfig } from '@agent-mesh/runtime';
import { expireOps, type StateStore } from '@agent-mesh/state';
import { bestBidFill, crosses, OrderBooks, type Ask, type Bid, type Fill } from '../order-book';
import {
  askKey,
  bidsKey,
  byTimeMade,
  causeOf,
  isWindowed,
  OPEN_PREFIX,
  openKey,
  storedBid,
  type AskStatus,
  type Cause,
  type StoredAsk,
  type StoredBid,
  windowKey,
} from './market-state';

/** One active market maker (Failover): the order books live in its memory. */
const ORDERS = 'market-maker';

/**
 * The market maker: asks (`market.asks`) and bids (`market.bids`) meet in one order book per
 * market (the skill), matched by price-time priority at the bid's price; every fill is
 * published on `market.fills`, and an ask still resting at its expiry (a delayed
 * `market.expiry-check` on `timers`) is removed and announced as `market.ask-expired`.
 *
 * The best bid wins: an ask with a bidding window (`bidWindowMs`, set by every market step)
 * never trades on arrival. Its first crossing bid opens the window, which closes `bidWindowMs`
 * later (at most half the ask's remaining life later): that time is fixed once in the
 * StateStore and the close is a `market.window-close` delayed on `timers`, so a restarted or
 * another market maker closes it. At the close the ask is filled with the best bid it
 * collected: the lowest price, then the earliest made, then the bidder id. A bid after the
 * close does not trade (the ask is filled by then). Bids that do not cross open nothing, so
 * an ask expires only if no crossing bid came before its expiry, as without a window. Each bid
 * is judged at the time it was made (its event's, never later than now), not when it is
 * handled: a bid slowed by a busy machine or a retried write counts as it came, and an expiry
 * check first opens the window a stored bid should have opened. An ask without a window trades
 * continuously, as below.
 *
 * A bid is an offer for one ask (its price comes from that ask's size), so inside a market's
 * book an order's capability is its ask id: a bid only ever crosses its own ask. Bids that
 * arrive before their ask (the two topics are not ordered with each other) wait in the
 * StateStore and rest in the book ahead of the ask when it comes, so the ask takes the cheapest
 * of them, the earliest of equal prices. Bids for an ask already filled or expired are ignored.
 *
 * Every order is written to the StateStore before it enters the book, and every ask is settled
 * (filled or expired) once, under the marker `market:settled:<askId>`: a redelivered ask or bid
 * never produces a second fill, and a fill the book makes after another process expired the
 * ask is dropped. A market maker that starts (or takes over) rebuilds the books from the
 * resting orders in the StateStore before it handles its first order.
 */
@Controller()
export class MarketController {
  private readonly log = new Logger('MarketMaker');
  private readonly publisher: MeshPublisher;
  private readonly books = new OrderBooks();
  /** Resting asks in this process's books, with the payload a fill carries. */
  private readonly asks = new Map<string, StoredAsk>();
  /** Bids in this process's books, by ask. */
  private readonly bidsByAsk = new Map<string, Set<string>>();
  /** Per-market queue: asks, bids and expiries of one market change the book one at a time. */
  private readonly chains = new Map<string, Promise<void>>();
  /** Markets whose book must be rebuilt from the StateStore before their next order. */
  private readonly dirty = new Set<string>();
  private loading?: Promise<void>;

  constructor(
    publisher: MeshPublisher,
    @Inject(STATE_STORE) private readonly state: StateStore,
    @Inject(MESH_CONFIG) private readonly config: MeshConfig,
    /** The time orders are judged by: the wall clock live, the replayed event's in a rebuild. */
    @Inject(MESH_CLOCK) private readonly clock: MeshClock,
  ) {
    this.publisher = publisher.as('market-maker');
  }

  @OnMeshEvent(MarketAskV1, { topic: Topics.marketAsks, subscription: ORDERS, type: 'Failover' })
  async onAsk(@Payload() event: EventEnvelope<MarketAsk>): Promise<void> {
    await this.loaded();
    const ask = event.data;
    await this.serialize(ask.market, async () => {
      const stored: StoredAsk = {
        ask,
        correlationId: event.correlationId,
        cause: causeOf(event),
        postedAt: this.timeOf(event),
      };
      await this.state.applyOnce(`market:ask:${ask.askId}`, [
        { op: 'hset', key: askKey(ask.askId), field: 'order', value: JSON.stringify(stored) },
        { op: 'hset', key: askKey(ask.askId), field: 'status', value: 'resting' satisfies AskStatus },
        { op: 'set', key: openKey(ask.askId), value: '1' },
      ]);
      // On a redelivery the first delivery's record stands; whatever it left undone is finished here.
      const record = await this.state.hgetall(askKey(ask.askId));
      if (record['status'] === 'resting' && record['order']) {
        const accepted = JSON.parse(record['order']) as StoredAsk;
        await this.ensureExpiryCheck(accepted, record, event);
        if (isWindowed(accepted.ask)) await this.openWindow(accepted, event);
        else await this.enterBook(accepted, event);
      }
      await this.announce(ask.askId, event);
    });
  }

  // In a geo set a region trades with its own workers only: a lost region's bid that replicates in
  // after an adoption is from a worker that is gone (docs/geo.md).
  @OnMeshEvent(MarketBidV1, { topic: Topics.marketBids, subscription: ORDERS, type: 'Failover', ownRegionOnly: true })
  async onBid(@Payload() event: EventEnvelope<MarketBid>): Promise<void> {
    await this.loaded();
    const bid = event.data;
    await this.serialize(bid.market, async () => {
      const madeAt = this.timeOf(event);
      if (bid.price <= 0 || bid.expiresAt <= madeAt) return; // can never trade
      const record = await this.state.hgetall(askKey(bid.askId));
      const status = record['status'] as AskStatus | undefined;
      if (status !== undefined && status !== 'resting') {
        // Filled or expired: the bid is ignored (finishing an announcement a crash interrupted).
        await this.announce(bid.askId, event);
        return;
      }
      if (record['window'] === 'closed') {
        this.log.debug(`bid ${bid.bidId} came after the bidding window of ${bid.askId} closed: it does not trade`);
        return;
      }
      const stored: StoredBid = { bid, madeAt, cause: causeOf(event) };
      const { applied } = await this.state.applyOnce(`market:bid:${bid.bidId}`, [
        { op: 'hset', key: bidsKey(bid.askId), field: bid.bidId, value: JSON.stringify(stored) },
      ]);
      if (!record['order']) return; // its ask has not arrived yet: the bid waits for it in the StateStore
      const ask = JSON.parse(record['order']) as StoredAsk;
      if (ask.ask.market !== bid.market) {
        this.log.warn(
          `bid ${bid.bidId} is for market ${bid.market} but ask ${bid.askId} is in ${ask.ask.market}: ignored`,
        );
        return;
      }
      if (isWindowed(ask.ask)) {
        await this.openWindow(ask, event); // the bid waits in the StateStore for the window's close
        return;
      }
      if (!this.asks.has(bid.askId)) {
        // Resting in the StateStore but not in this book (accepted by another market maker):
        // it enters with every bid stored for it, this one included.
        await this.enterBook(ask, event);
        return;
      }
      if (!applied) return; // a redelivered bid: it is in the book already (or has traded)
      const fills = this.place(
        () => this.books.book(bid.market).addBid(this.bookBid(bid), this.clock.now()),
        bid.bidId,
      );
      this.trackBid(bid);
      for (const fill of fills) await this.settleFill(fill, event);
    });
  }

  @OnMeshEvent(MarketExpiryCheckV1, { topic: Topics.timers, subscription: ORDERS, type: 'Shared' })
  async onExpiryCheck(@Payload() event: EventEnvelope<MarketExpiryCheck>): Promise<void> {
    const { askId, market } = event.data;
    await this.serialize(market, async () => {
      // A window its close has not reached yet (a busy timers topic), or one a crossing bid should
      // have opened (its handling failed and is not retried yet), is closed first: a crossing bid
      // came before the expiry, so the ask is filled, not expired.
      const record = await this.state.hgetall(askKey(askId));
      if (record['status'] === 'resting' && record['order']) {
        const stored = JSON.parse(record['order']) as StoredAsk;
        if (isWindowed(stored.ask) && (await this.windowClosesAt(stored)) !== null) {
          await this.state.apply([{ op: 'hset', key: askKey(askId), field: 'window', value: 'closed' }]);
          await this.fillFromWindow(stored, event);
        }
      }
      const status = (await this.state.hget(askKey(askId), 'status')) as AskStatus | null;
      if (status === 'resting') {
        const { applied } = await this.state.applyOnce(`market:settled:${askId}`, [
          { op: 'hset', key: askKey(askId), field: 'status', value: 'expired' satisfies AskStatus },
          { op: 'del', key: openKey(askId) },
          { op: 'del', key: bidsKey(askId) },
          { op: 'del', key: windowKey(askId) },
          ...expireOps([askKey(askId)], this.config.workflowRetentionMs),
        ]);
        if (applied) this.log.log(`ask ${askId} expired without a crossing bid`);
      }
      this.forget(askId);
      await this.announce(askId, event);
    });
  }

  /**
   * An ask's bidding window is due to close: the close is passed on to `market.bids` (keyed by
   * market, as bids are) and judged there, behind every bid published before it. So the bids it
   * takes are the ones ahead of it in that topic, however late their handling: the same live and
   * in a rebuild from the log. Judged here, a close could overtake a bid made in the window whose
   * handling was queued behind a slow one. A redelivered close is passed on again; the second
   * finds the window closed.
   */
  @OnMeshEvent(MarketWindowCloseV1, { topic: Topics.timers, subscription: ORDERS, type: 'Shared' })
  async onWindowDue(@Payload() event: EventEnvelope<MarketWindowClose>): Promise<void> {
    await this.publisher.publish(Topics.marketBids, MarketWindowCloseV1, event.data, {
      correlationId: event.correlationId,
      causedBy: event,
      key: event.data.market,
    });
  }

  /**
   * An ask's bidding window closed, in the bids' order: later bids are late, and the ask is
   * filled with the best of the bids it collected, if one crosses. A redelivered close matches
   * again; the settled marker keeps it to one fill.
   */
  @OnMeshEvent(MarketWindowCloseV1, {
    topic: Topics.marketBids,
    subscription: ORDERS,
    type: 'Failover',
    ownRegionOnly: true,
  })
  async onWindowClose(@Payload() event: EventEnvelope<MarketWindowClose>): Promise<void> {
    await this.loaded();
    const { askId, market } = event.data;
    await this.serialize(market, async () => {
      const record = await this.state.hgetall(askKey(askId));
      if (record['status'] === 'resting' && record['order']) {
        await this.state.apply([{ op: 'hset', key: askKey(askId), field: 'window', value: 'closed' }]);
        await this.fillFromWindow(JSON.parse(record['order']) as StoredAsk, event);
      }
      await this.announce(askId, event);
    });
  }

  /**
   * Fills a closed window's ask with the best bid it collected: in the order they were made
   * (ties by bid id, whose last part is the bidder), so the lowest price, then the earliest
   * made, then the bidder id.
   */
  private async fillFromWindow(stored: StoredAsk, cause: Cause): Promise<void> {
    const { ask } = stored;
    const closesAt = await this.state.get(windowKey(ask.askId));
    if (closesAt === null) return; // no crossing bid opened a window
    // Judged at the window's close, however late its timer is handled: the bids made by then.
    const now = Number(closesAt);
    if (ask.budget <= 0 || ask.expiresAt <= now) return; // no fill possible; its expiry check settles it
    const collected = await this.storedBids(ask.askId);
    const bids = byTimeMade(collected)
      .filter((stored) => stored.madeAt <= now)
      .map(({ bid }) => bid)
      .filter((bid) => bid.market === ask.market && bid.price > 0 && bid.expiresAt > now);
    const fill = bestBidFill(
      this.bookAsk(ask),
      bids.map((bid) => this.bookBid(bid)),
      now,
      (id, error) => this.log.warn(`order ${id} not placed: ${describeError(error)}`),
    );
    if (fill) await this.settleFill(fill, cause, stored);
  }

  /** Puts a resting ask in its book: first the bids that came before it, then the ask itself. */
  private async enterBook(stored: StoredAsk, cause: Cause | undefined): Promise<void> {
    const { ask } = stored;
    if (this.asks.has(ask.askId)) return;
    const now = this.clock.now();
    if (ask.expiresAt <= now) return; // its expiry check settles it
    this.asks.set(ask.askId, stored);
    const book = this.books.book(ask.market);
    const waiting = await this.storedBids(ask.askId);
    for (const { bid } of byTimeMade(waiting)) {
      if (bid.market !== ask.market || bid.price <= 0 || bid.expiresAt <= now) continue;
      // No ask rests under this capability yet, so these bids only rest: no fill here.
      this.place(() => book.addBid(this.bookBid(bid), now), bid.bidId);
      this.trackBid(bid);
    }
    if (ask.budget <= 0) return; // no positive price crosses a zero budget; it rests until it expires
    const fills = this.place(() => book.addAsk(this.bookAsk(ask), now), ask.askId);
    for (const fill of fills) await this.settleFill(fill, cause ?? stored.cause);
  }

  /** Records the fill as the ask's one outcome, then announces it. */
  private async settleFill(fill: Fill, cause: Cause, stored = this.asks.get(fill.askId)): Promise<void> {
    if (!stored) throw new Error(`fill ${fill.fillId} for ask ${fill.askId}, which is not in this market maker's book`);
    const { ask } = stored;
    const data: MarketFill = {
      fillId: fill.fillId,
      askId: ask.askId,
      bidId: fill.bidId,
      market: ask.market,
      workerId: fill.workerId,
      price: fill.price,
      stepPath: ask.stepPath,
      ...(ask.attempt !== undefined && { attempt: ask.attempt }),
      input: ask.input,
      params: ask.params,
    };
    const { applied } = await this.state.applyOnce(`market:settled:${ask.askId}`, [
      { op: 'hset', key: askKey(ask.askId), field: 'status', value: 'filled' satisfies AskStatus },
      { op: 'hset', key: askKey(ask.askId), field: 'fill', value: JSON.stringify(data) },
      { op: 'del', key: openKey(ask.askId) },
      { op: 'del', key: bidsKey(ask.askId) },
      { op: 'del', key: windowKey(ask.askId) },
      ...expireOps([askKey(ask.askId)], this.config.workflowRetentionMs),
    ]);
    this.forget(ask.askId);
    if (!applied) {
      this.log.warn(`fill ${fill.fillId} dropped: ask ${ask.askId} was already settled`);
      return;
    }
    await this.announce(ask.askId, cause);
  }

  /** Publishes the ask's outcome (fill or expiry) unless that was done; safe to call any time. */
  private async announce(askId: string, cause: Cause): Promise<void> {
    const record = await this.state.hgetall(askKey(askId));
    if (record['announced'] === '1' || !record['order']) return;
    const stored = JSON.parse(record['order']) as StoredAsk;
    const options = { correlationId: stored.correlationId, causedBy: cause };
    if (record['status'] === 'filled' && record['fill']) {
      await this.publisher.publish(Topics.marketFills, MarketFillV1, JSON.parse(record['fill']) as MarketFill, options);
    } else if (record['status'] === 'expired') {
      const { ask } = stored;
      await this.publisher.publish(
        Topics.marketFills,
        MarketAskExpiredV1,
        { askId: ask.askId, stepPath: ask.stepPath, market: ask.market, budget: ask.budget },
        options,
      );
    } else {
      return;
    }
    await this.state.apply([{ op: 'hset', key: askKey(askId), field: 'announced', value: '1' }]);
  }

  /** The expiry check of an ask, delayed on `timers` until the ask's expiry; scheduled once. */
  private async ensureExpiryCheck(stored: StoredAsk, record: Record<string, string>, cause: Cause): Promise<void> {
    if (record['timer'] === '1') return;
    const { ask } = stored;
    await this.publisher.publish(
      Topics.timers,
      MarketExpiryCheckV1,
      { askId: ask.askId, market: ask.market },
      { correlationId: stored.correlationId, causedBy: cause, deliverAt: ask.expiresAt },
    );
    await this.state.apply([{ op: 'hset', key: askKey(ask.askId), field: 'timer', value: '1' }]);
  }

  /** Opens the ask's bidding window once a bid it collected crosses it, and schedules its close; safe to call again. */
  private async openWindow(stored: StoredAsk, cause: Cause): Promise<void> {
    const closesAt = await this.windowClosesAt(stored);
    if (closesAt !== null) await this.ensureWindowClose(stored, closesAt, cause);
  }

  /**
   * When the ask's bidding window closes, or null while no bid it collected crosses it. The
   * window opens at the first crossing bid's time (not before the ask was posted), each bid
   * judged at the time it was made, however late it is handled; `closesAt` is fixed the first
   * time (marker `market:window:<askId>`).
   */
  private async windowClosesAt(stored: StoredAsk): Promise<number | null> {
    const { ask } = stored;
    const fixed = await this.state.get(windowKey(ask.askId));
    if (fixed !== null) return Number(fixed);
    const collected = await this.storedBids(ask.askId);
    const judgedAt = (bid: StoredBid) => Math.max(bid.madeAt, stored.postedAt ?? 0);
    const first = byTimeMade(collected).find(
      (candidate) =>
        candidate.bid.market === ask.market &&
        candidate.bid.price > 0 &&
        crosses(this.bookAsk(ask), this.bookBid(candidate.bid), judgedAt(candidate)),
    );
    if (!first) return null;
    const openedAt = judgedAt(first);
    // at most half the ask's remaining life: the close comes well before the expiry check
    const at = openedAt + Math.min(ask.bidWindowMs ?? 0, Math.floor((ask.expiresAt - openedAt) / 2));
    await this.state.applyOnce(`market:window:${ask.askId}`, [
      { op: 'set', key: windowKey(ask.askId), value: String(at) },
    ]);
    const closesAt = await this.state.get(windowKey(ask.askId));
    return closesAt === null ? null : Number(closesAt);
  }

  /** The close of an ask's bidding window, delayed on `timers` until `closesAt`; scheduled once. */
  private async ensureWindowClose(stored: StoredAsk, closesAt: number, cause: Cause): Promise<void> {
    const { ask } = stored;
    if ((await this.state.hget(askKey(ask.askId), 'windowTimer')) === '1') return;
    await this.publisher.publish(
      Topics.timers,
      MarketWindowCloseV1,
      { askId: ask.askId, market: ask.market },
      { correlationId: stored.correlationId, causedBy: cause, deliverAt: closesAt },
    );
    await this.state.apply([{ op: 'hset', key: askKey(ask.askId), field: 'windowTimer', value: '1' }]);
  }

  /** Takes a settled ask and its remaining bids out of this process's book. */
  private forget(askId: string): void {
    const stored = this.asks.get(askId);
    this.asks.delete(askId);
    const bids = this.bidsByAsk.get(askId);
    this.bidsByAsk.delete(askId);
    if (!stored) return;
    const book = this.books.get(stored.ask.market);
    book?.cancel(askId);
    for (const bidId of bids ?? []) book?.cancel(bidId);
  }

  private trackBid(bid: MarketBid): void {
    let bids = this.bidsByAsk.get(bid.askId);
    if (!bids) {
      bids = new Set();
      this.bidsByAsk.set(bid.askId, bids);
    }
    bids.add(bid.bidId);
  }

  private bookAsk(ask: MarketAsk): Ask {
    return {
      id: ask.askId,
      capability: ask.askId,
      budget: ask.budget,
      maxEstimatedMs: ask.maxEstimatedMs,
      deadline: ask.expiresAt,
    };
  }

  private bookBid(bid: MarketBid): Bid {
    return {
      id: bid.bidId,
      workerId: bid.workerId,
      capability: bid.askId,
      price: bid.price,
      estimatedMs: bid.estimatedMs,
      expiresAt: bid.expiresAt,
    };
  }

  /** An order the book refuses (an id used twice, an order already expired) is logged and left out. */
  private place(add: () => Fill[], id: string): Fill[] {
    try {
      return add();
    } catch (error) {
      this.log.warn(`order ${id} not placed: ${describeError(error)}`);
      return [];
    }
  }

  /** The bids stored for an ask (StateStore), as `storedBid` reads each. */
  private async storedBids(askId: string): Promise<StoredBid[]> {
    return Object.values(await this.state.hgetall(bidsKey(askId))).map(storedBid);
  }

  /**
   * When an order was made: its event's time, never later than now (a clock ahead gains
   * nothing). A bid handled late — a retried write, a busy machine — is judged as it came; in a
   * rebuild this is the replayed event's time, as the clock is.
   */
  private timeOf(event: EventEnvelope): number {
    const now = this.clock.now();
    const made = Date.parse(event.occurredAt);
    return Number.isFinite(made) ? Math.min(made, now) : now;
  }

  /** Rebuilds the books from the resting orders in the StateStore, once, before the first order. */
  private loaded(): Promise<void> {
    this.loading ??= this.restore().catch((error: unknown) => {
      this.loading = undefined;
      throw error;
    });
    return this.loading;
  }

  /**
   * Puts every ask resting in the StateStore (of one market, or of all) in the books, with the
   * bids stored for it, and makes sure its expiry check is scheduled. Fills this makes were
   * matched but never recorded before (a crash in between): they are settled now.
   */
  private async restore(market?: string): Promise<void> {
    const askIds = (await this.state.keys(`${OPEN_PREFIX}*`)).map((key) => key.slice(OPEN_PREFIX.length)).sort();
    let restored = 0;
    for (const askId of askIds) {
      const record = await this.state.hgetall(askKey(askId));
      if (record['status'] !== 'resting' || !record['order']) continue;
      const stored = JSON.parse(record['order']) as StoredAsk;
      if (market !== undefined && stored.ask.market !== market) continue;
      const work = async () => {
        await this.ensureExpiryCheck(stored, record, stored.cause);
        // A windowed ask never rests in a book: its window's close matches it.
        if (isWindowed(stored.ask)) await this.openWindow(stored, stored.cause);
        else await this.enterBook(stored, undefined);
      };
      // A market's own reload already runs inside its queue.
      await (market === undefined ? this.serialize(stored.ask.market, work) : work());
      restored++;
    }
    if (restored > 0)
      this.log.log(`rebuilt the order book${market ? ` of ${market}` : 's'}: ${restored} resting ask(s) restored`);
  }

  /**
   * After a failed handler the book of that market may disagree with the StateStore (the book
   * matched, the record failed): the market's book is thrown away and rebuilt from the
   * StateStore before its next order.
   */
  private async reload(market: string): Promise<void> {
    this.books.delete(market);
    for (const [askId, stored] of [...this.asks]) {
      if (stored.ask.market !== market) continue;
      this.asks.delete(askId);
      this.bidsByAsk.delete(askId);
    }
    await this.restore(market);
    this.dirty.delete(market);
  }

  private serialize(market: string, work: () => Promise<void>): Promise<void> {
    const previous = this.chains.get(market) ?? Promise.resolve();
    const next = previous.then(async () => {
      if (this.dirty.has(market)) await this.reload(market);
      try {
        await work();
      } catch (error) {
        this.dirty.add(market);
        throw error;
      }
    });
    const tail = next.catch(() => undefined);
    this.chains.set(market, tail);
    void tail.then(() => {
      if (this.chains.get(market) === tail) this.chains.delete(market);
    });
    return next;
  }
}
