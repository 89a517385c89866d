/**
 * market: orders matched per second by the market maker's matching engine (OrderBook), in
 * process, beside a minimal price-time matcher written here (no validation, no copies, no
 * sequence bookkeeping) on the same order stream in the same run. Two order streams:
 *
 * - `per-ask`: how the market maker uses its books — every ask is its own capability and the
 *   workers' bids for it (2 per ask, one of them cheaper than the budget) arrive around it;
 * - `shared`: one continuous market, asks and bids with random prices, 2 s expiries on a
 *   simulated clock (1 ms per order) and an expiry sweep every 1,000 orders, so the book keeps
 *   a steady depth of resting orders.
 *
 * A figure counts fills per second (each fill matches one ask with one bid). The market maker
 * agent end to end (asks, bids, fills over the bus) is runMarketMesh below.
 */
import { OrderBook, type Ask, type Bid } from '@agent-mesh/agents/market-maker';
import { MarketAskV1, MarketFillV1, Topics } from '@agent-mesh/contracts';
import type { BenchContext } from './context';
import { closedLoop } from './driver';
import type { Report } from './report';
import { percentileMs } from './stats';

export interface MarketOptions {
  readonly orders: number;
  readonly repeats: number;
}

type Order = { readonly side: 'ask'; readonly ask: Ask } | { readonly side: 'bid'; readonly bid: Bid };

/** A deterministic pseudo-random sequence (mulberry32), so every run sees the same orders. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function perAskStream(count: number): Order[] {
  const orders: Order[] = [];
  const rnd = random(7);
  for (let i = 0; orders.length < count; i++) {
    const capability = `wf-${i}:root:ask-1`;
    const budget = 5 + Math.floor(rnd() * 5);
    const cheap: Order = {
      side: 'bid',
      bid: {
        id: `b${i}a`,
        workerId: `w${i % 4}`,
        capability,
        price: budget - 1 - Math.floor(rnd() * 3),
        estimatedMs: 100,
      },
    };
    const dear: Order = {
      side: 'bid',
      bid: { id: `b${i}b`, workerId: `w${(i + 1) % 4}`, capability, price: budget + 1, estimatedMs: 100 },
    };
    const ask: Order = { side: 'ask', ask: { id: `a${i}`, capability, budget } };
    // bids may arrive before their ask (the topics are not ordered with each other)
    orders.push(...(i % 2 === 0 ? [dear, ask, cheap] : [cheap, dear, ask]));
  }
  return orders.slice(0, count);
}

function sharedStream(count: number): Order[] {
  const orders: Order[] = [];
  const rnd = random(11);
  for (let i = 0; i < count; i++) {
    const now = i; // 1 ms per order
    if (rnd() < 0.5) {
      orders.push({
        side: 'ask',
        ask: { id: `a${i}`, capability: 'keywords', budget: 1 + Math.floor(rnd() * 10), deadline: now + 2000 },
      });
    } else {
      orders.push({
        side: 'bid',
        bid: {
          id: `b${i}`,
          workerId: `w${i % 8}`,
          capability: 'keywords',
          price: 1 + Math.floor(rnd() * 10),
          estimatedMs: 100,
          expiresAt: now + 2000,
        },
      });
    }
  }
  return orders;
}

/** Runs the stream through OrderBook; returns fills. */
function runOrderBook(orders: readonly Order[], sweep: boolean): number {
  const book = new OrderBook({ now: 0 });
  let fills = 0;
  for (let i = 0; i < orders.length; i++) {
    const order = orders[i];
    fills += order.side === 'ask' ? book.addAsk(order.ask, i).length : book.addBid(order.bid, i).length;
    if (sweep && i % 1000 === 999) book.expire(i);
  }
  return fills;
}

interface RestingBid {
  readonly bid: Bid;
  readonly seq: number;
}

/** The baseline: the same matching rules, the least code that implements them. */
function runMinimal(orders: readonly Order[], sweep: boolean): number {
  const asks = new Map<string, Ask[]>();
  const bids = new Map<string, RestingBid[]>();
  let fills = 0;
  let seq = 0;
  for (let i = 0; i < orders.length; i++) {
    const order = orders[i];
    seq++;
    if (order.side === 'ask') {
      const ask = order.ask;
      const list = bids.get(ask.capability);
      let matched = -1;
      if (list) {
        for (let b = 0; b < list.length; b++) {
          const bid = list[b].bid;
          if (bid.price > ask.budget) break;
          if (bid.expiresAt === undefined || bid.expiresAt > i) {
            matched = b;
            break;
          }
        }
      }
      if (list && matched >= 0) {
        list.splice(matched, 1);
        fills++;
      } else {
        const resting = asks.get(ask.capability) ?? [];
        resting.push(ask);
        asks.set(ask.capability, resting);
      }
    } else {
      const bid = order.bid;
      const resting = asks.get(bid.capability);
      let at = -1;
      if (resting) at = resting.findIndex((a) => a.budget >= bid.price && (a.deadline === undefined || a.deadline > i));
      if (resting && at >= 0) {
        resting.splice(at, 1);
        fills++;
      } else {
        const list = bids.get(bid.capability) ?? [];
        let lo = 0;
        let hi = list.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (list[mid].bid.price <= bid.price) lo = mid + 1;
          else hi = mid;
        }
        list.splice(lo, 0, { bid, seq });
        bids.set(bid.capability, list);
      }
    }
    if (sweep && i % 1000 === 999) {
      for (const [key, list] of asks)
        asks.set(
          key,
          list.filter((a) => a.deadline === undefined || a.deadline > i),
        );
      for (const [key, list] of bids)
        bids.set(
          key,
          list.filter((b) => b.bid.expiresAt === undefined || b.bid.expiresAt > i),
        );
    }
  }
  return fills;
}

function timed(run: () => number): { fills: number; seconds: number } {
  const started = process.hrtime.bigint();
  const fills = run();
  return { fills, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

export async function runMarket(report: Report, options: MarketOptions): Promise<void> {
  process.stdout.write(
    `\nmarket: OrderBook matching, ${options.orders} orders per stream, ${options.repeats} runs, beside a minimal matcher\n`,
  );
  const streams = { 'per-ask': perAskStream(options.orders), shared: sharedStream(options.orders) } as const;
  for (const [name, orders] of Object.entries(streams)) {
    const sweep = name === 'shared';
    runOrderBook(orders.slice(0, 20_000), sweep); // warm-up
    runMinimal(orders.slice(0, 20_000), sweep);
    const book: number[] = [];
    const minimal: number[] = [];
    const orderRates: number[] = [];
    let fills = 0;
    for (let r = 0; r < options.repeats; r++) {
      const a = timed(() => runOrderBook(orders, sweep));
      const b = timed(() => runMinimal(orders, sweep));
      fills = a.fills;
      if (a.fills !== b.fills)
        report.note(`market ${name}: OrderBook made ${a.fills} fills, the minimal matcher ${b.fills}`);
      book.push(a.fills / a.seconds);
      orderRates.push(orders.length / a.seconds);
      minimal.push(b.fills / b.seconds);
    }
    const key = name === 'per-ask' ? 'perask' : 'shared';
    report.addMedian('market', `market.${key}.baseline.fillsps`, minimal, 'fills/s', {
      label: `minimal price-time matcher, ${name} stream`,
    });
    report.addMedian('market', `market.${key}.fillsps`, book, 'fills/s', {
      label: `OrderBook, ${name} stream (${fills} fills of ${orders.length} orders)`,
      baseline: `market.${key}.baseline.fillsps`,
    });
    report.addMedian('market', `market.${key}.ordersps`, orderRates, 'orders/s', {
      label: `OrderBook orders accepted, ${name} stream`,
    });
  }
}

/** A workflow of one market step: keywords on a short document, a budget every bid is under. */
export function marketSpec(n: number): unknown {
  return {
    name: 'market',
    step: {
      kind: 'market',
      skill: 'keywords',
      input: {
        id: `m${n}`,
        text: `Quarterly revenue grew on strong demand while churn fell to a record low. Order ${n}.`,
      },
      budget: 100,
      expireAfterMs: 10_000,
    },
  };
}

/**
 * The market maker agent end to end: market-step workflows, 10 in flight, on the memory mesh
 * and the Pulsar mesh; every worker bids on every ask, the market maker matches and publishes
 * the fill. Counts the fills seen on `market.fills` in the window (orders matched per second
 * by the market maker agent), beside the OrderBook figure of the same run, and the fill
 * latency: from the workflow's first ask to its fill, both as seen on the bus (the bidding
 * window, DEFAULT_BID_WINDOW_MS, is part of it by design).
 */
export async function runMarketMesh(ctx: BenchContext): Promise<void> {
  const { report } = ctx;
  for (const kind of ['memory', 'pulsar'] as const) {
    const target = kind === 'memory' ? await ctx.memory('market (agent)') : await ctx.pulsar('market (agent)');
    if (!target) continue;
    let fills: bigint[] = [];
    let latencies: bigint[] = [];
    const askedAt = new Map<string, bigint>();
    const stopAsks = await target.observer.listen(Topics.marketAsks, (type, workflowId, at) => {
      if (type === MarketAskV1.type && !askedAt.has(workflowId)) askedAt.set(workflowId, at);
    });
    const stopFills = await target.observer.listen(Topics.marketFills, (type, workflowId, at) => {
      if (type !== MarketFillV1.type) return;
      fills.push(at);
      const asked = askedAt.get(workflowId);
      if (asked !== undefined) latencies.push(at - asked);
    });
    const stop = async () => {
      await stopAsks();
      await stopFills();
    };
    try {
      const rates: number[] = [];
      const completed: number[] = [];
      const fillP50: number[] = [];
      for (let r = 0; r <= ctx.options.repeats; r++) {
        fills = [];
        latencies = [];
        const warmupMs = ctx.ms(1500);
        const durationMs = ctx.ms(5000);
        const windowStart = process.hrtime.bigint() + BigInt(warmupMs) * 1_000_000n;
        const windowEnd = windowStart + BigInt(durationMs) * 1_000_000n;
        const result = await closedLoop(target, {
          concurrency: 10,
          warmupMs,
          durationMs,
          timeoutMs: 60_000,
          body: marketSpec,
        });
        const inWindow = fills.filter((at) => at >= windowStart && at <= windowEnd).length;
        const failed = result.failed > 0 ? `, ${result.failed} failed (${result.errors[0] ?? 'ended failed'})` : '';
        const p50 = latencies.length > 0 ? percentileMs(latencies, 50) : Number.NaN;
        process.stdout.write(
          `  ${kind}${r === 0 ? ' warm-up' : ` run ${r}`}: ${(inWindow / (durationMs / 1000)).toFixed(1)} fills/s, ${result.perSecond.toFixed(1)} market workflows/s, fill p50 ${p50.toFixed(1)} ms${failed}\n`,
        );
        if (r === 0) continue;
        rates.push(inWindow / (durationMs / 1000));
        completed.push(result.perSecond);
        fillP50.push(p50);
      }
      report.addMedian('market', `market.${kind}.fillsps`, rates, 'fills/s', {
        label: `market maker agent, ${kind} mesh: fills on market.fills, 10 market steps in flight`,
        baseline: 'market.perask.fillsps',
      });
      report.addMedian('market', `market.${kind}.wfps`, completed, 'workflows/s', {
        label: `market-step workflows completed, ${kind} mesh`,
      });
      report.addMedian('market', `market.${kind}.fill.p50`, fillP50, 'ms', {
        label: `market step, ${kind} mesh: first ask → fill seen on the bus, p50 (includes the bidding window)`,
      });
    } finally {
      await stop();
    }
  }
}
