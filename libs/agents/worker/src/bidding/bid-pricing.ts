/**
 * How a worker prices its bids. Everything comes from the worker's own state and the ask:
 *
 *   size        = 1 + textLength / 1000          (a 1 000-character text costs twice a tiny one)
 *   busy        = 1 + load                       (load = market tasks this worker is running now)
 *   price       = round2(basePrice[skill] × factor × size × busy), at least 0.01
 *   estimatedMs = round(baseMs[skill] × size × busy)
 *
 * `factor` is the worker's BID_PRICE_FACTOR (default 1): a cheaper or dearer worker.
 */

/** Price of a tiny task on an idle worker, per skill; other skills cost DEFAULT_BASE_PRICE. */
export const BASE_PRICES: Readonly<Record<string, number>> = {
  estimate: 0.5,
  keywords: 1,
  llm: 5,
  readability: 0.5,
  sentiment: 0.5,
  summarize: 2,
};
export const DEFAULT_BASE_PRICE = 1;

/** Run time of a tiny task on an idle worker, per skill; other skills take DEFAULT_BASE_MS. */
export const BASE_MS: Readonly<Record<string, number>> = { llm: 2000, summarize: 200 };
export const DEFAULT_BASE_MS = 100;

/** The lowest price a bid can have (the order book needs a positive price). */
export const MIN_PRICE = 0.01;

export interface BidInput {
  readonly skill: string;
  readonly textLength: number;
  readonly load: number;
  readonly factor: number;
}

export interface BidQuote {
  readonly price: number;
  readonly estimatedMs: number;
}

function round2(value: number): number {
  return Math.round((value + Number.EPSILON * Math.abs(value)) * 100) / 100;
}

export function quoteBid({ skill, textLength, load, factor }: BidInput): BidQuote {
  if (!Number.isFinite(textLength) || textLength < 0) throw new Error(`textLength must be >= 0 (got ${textLength})`);
  if (!Number.isInteger(load) || load < 0) throw new Error(`load must be an integer >= 0 (got ${load})`);
  if (!Number.isFinite(factor) || factor <= 0) throw new Error(`factor must be a positive number (got ${factor})`);
  const size = 1 + textLength / 1000;
  const busy = 1 + load;
  const base = BASE_PRICES[skill] ?? DEFAULT_BASE_PRICE;
  const baseMs = BASE_MS[skill] ?? DEFAULT_BASE_MS;
  return {
    price: Math.max(MIN_PRICE, round2(base * factor * size * busy)),
    estimatedMs: Math.round(baseMs * size * busy),
  };
}

/** BID_PRICE_FACTOR: unset or empty → 1; otherwise a positive number, or start-up fails. */
export function bidPriceFactor(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return 1;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`BID_PRICE_FACTOR must be a positive number such as 0.5 or 2 (got ${JSON.stringify(raw)})`);
  }
  return value;
}
