import { OrderBook } from './order-book';
import { OrderBooks } from './order-books';
import type { Ask, Bid } from './types';

// Expected values below are worked out by hand from the rules in order-book.ts's docs:
// sequence numbers count accepted addAsk/addBid/reprice calls from 1; a fill is at the bid's
// price; fillId is `${askId}:${bidId}` for ids with no reserved characters.

const ask = (id: string, over: Partial<Ask> = {}): Ask => ({ id, capability: 'summarize', budget: 10, ...over });
const bid = (id: string, over: Partial<Bid> = {}): Bid => ({
  id,
  workerId: `w-${id}`,
  capability: 'summarize',
  price: 5,
  estimatedMs: 1000,
  ...over,
});

describe('OrderBook crossing rule', () => {
  it('fills an ask against a crossing bid at the bid price (reverse auction)', () => {
    const book = new OrderBook();
    expect(book.addBid(bid('b1', { price: 8 }))).toEqual([]); // seq 1, rests
    // seq 2: budget 10 >= price 8, same capability → one fill at 8 (not the budget of 10)
    expect(book.addAsk(ask('a1', { budget: 10 }))).toEqual([
      {
        fillId: 'a1:b1',
        askId: 'a1',
        bidId: 'b1',
        workerId: 'w-b1',
        capability: 'summarize',
        price: 8,
        askedAt: 2,
        bidAt: 1,
        matchedAt: 2,
      },
    ]);
    expect(book.snapshot()).toEqual({ asks: [], bids: [], time: 0, seq: 2 });
  });

  it('crosses when the price equals the budget exactly', () => {
    const book = new OrderBook();
    book.addBid(bid('b1', { price: 10 }));
    expect(book.addAsk(ask('a1', { budget: 10 })).map((f) => f.price)).toEqual([10]);
  });

  it('does not cross when the budget is below the price; both rest', () => {
    const book = new OrderBook();
    book.addBid(bid('b1', { price: 8 }));
    expect(book.addAsk(ask('a1', { budget: 7 }))).toEqual([]); // 7 < 8
    const { asks, bids } = book.snapshot();
    expect(asks.map((a) => a.id)).toEqual(['a1']);
    expect(bids.map((b) => b.id)).toEqual(['b1']);
  });

  it('does not cross on a capability mismatch', () => {
    const book = new OrderBook();
    book.addBid(bid('b1', { capability: 'translate', price: 1 }));
    expect(book.addAsk(ask('a1', { capability: 'summarize', budget: 100 }))).toEqual([]);
    expect(book.addBid(bid('b2', { capability: 'Summarize', price: 1 }))).toEqual([]); // exact match only
    expect(book.snapshot().asks.map((a) => a.id)).toEqual(['a1']);
  });

  it('does not cross a bid slower than the ask allows; an equal estimate crosses', () => {
    const book = new OrderBook();
    book.addBid(bid('slow', { estimatedMs: 5000 }));
    expect(book.addAsk(ask('a1', { maxEstimatedMs: 4000 }))).toEqual([]); // 5000 > 4000
    expect(book.addAsk(ask('a2', { maxEstimatedMs: 5000 })).map((f) => f.bidId)).toEqual(['slow']); // 5000 <= 5000
    // without maxEstimatedMs any estimate is fine
    book.addBid(bid('glacial', { estimatedMs: 10_000_000 }));
    expect(book.addAsk(ask('a3')).map((f) => f.bidId)).toEqual(['glacial']);
  });

  it('does not match an expired bid or an expired ask (expired at now >= expiry)', () => {
    const book = new OrderBook();
    book.addBid(bid('b1', { expiresAt: 100 }), 0);
    // at now=100 the bid has expired (100 <= 100): no fill, the ask rests, the bid stays until expire()
    expect(book.addAsk(ask('a1', { deadline: 200 }), 100)).toEqual([]);
    expect(book.snapshot().bids.map((b) => b.id)).toEqual(['b1']);
    // at now=200 the ask's deadline has passed: an otherwise crossing bid does not take it
    expect(book.addBid(bid('b2'), 200)).toEqual([]);
    expect(book.snapshot().bids.map((b) => b.id)).toEqual(['b1', 'b2']); // both price 5: b1 (seq 1) before b2 (seq 3)
  });

  it('rejects an order that is already expired when it arrives', () => {
    const book = new OrderBook({ now: 1000 });
    expect(() => book.addAsk(ask('a1', { deadline: 1000 }))).toThrow(/already expired.*deadline 1000 <= now 1000/);
    expect(() => book.addBid(bid('b1', { expiresAt: 999 }), 500)).toThrow(/already expired/); // book time stays 1000
    expect(book.snapshot()).toEqual({ asks: [], bids: [], time: 1000, seq: 0 });
  });
});

describe('OrderBook priority', () => {
  it('gives an incoming ask the cheapest crossing bid even if it arrived later', () => {
    const book = new OrderBook();
    book.addBid(bid('b9', { price: 9 })); // seq 1
    book.addBid(bid('b7', { price: 7 })); // seq 2
    book.addBid(bid('b8', { price: 8 })); // seq 3
    expect(book.snapshot().bids.map((b) => b.id)).toEqual(['b7', 'b8', 'b9']);
    // three asks (seq 4, 5, 6) take the bids cheapest first: 7, 8, 9
    expect(book.addAsk(ask('a1'))).toEqual([
      expect.objectContaining({ bidId: 'b7', price: 7, askedAt: 4, bidAt: 2, matchedAt: 4 }),
    ]);
    expect(book.addAsk(ask('a2'))).toEqual([expect.objectContaining({ bidId: 'b8', price: 8, bidAt: 3 })]);
    expect(book.addAsk(ask('a3'))).toEqual([expect.objectContaining({ bidId: 'b9', price: 9, bidAt: 1 })]);
  });

  it('breaks equal prices by arrival sequence', () => {
    const book = new OrderBook();
    book.addBid(bid('first', { price: 5 }), 2000); // seq 1 (later wall time passed in, earlier seq)
    book.addBid(bid('second', { price: 5 })); // seq 2
    expect(book.addAsk(ask('a1')).map((f) => f.bidId)).toEqual(['first']);
    expect(book.addAsk(ask('a2')).map((f) => f.bidId)).toEqual(['second']);
  });

  it('takes the best crossing bid, skipping a cheaper one that does not cross', () => {
    const book = new OrderBook();
    book.addBid(bid('cheap-slow', { price: 3, estimatedMs: 9000 }));
    book.addBid(bid('dear-fast', { price: 6, estimatedMs: 1000 }));
    expect(book.addAsk(ask('a1', { maxEstimatedMs: 2000 })).map((f) => f.bidId)).toEqual(['dear-fast']);
    expect(book.snapshot().bids.map((b) => b.id)).toEqual(['cheap-slow']);
  });

  it('gives an incoming bid the oldest crossing resting ask, skipping asks it does not cross', () => {
    const book = new OrderBook();
    book.addAsk(ask('poor', { budget: 5 })); // seq 1: budget below 8
    book.addAsk(ask('a2', { budget: 10 })); // seq 2
    book.addAsk(ask('a3', { budget: 10 })); // seq 3
    expect(book.addBid(bid('b1', { price: 8 }))).toEqual([
      {
        fillId: 'a2:b1',
        askId: 'a2',
        bidId: 'b1',
        workerId: 'w-b1',
        capability: 'summarize',
        price: 8,
        askedAt: 2,
        bidAt: 4,
        matchedAt: 4,
      },
    ]);
    expect(book.addBid(bid('b2', { price: 8 })).map((f) => f.askId)).toEqual(['a3']);
    expect(book.snapshot().asks.map((a) => a.id)).toEqual(['poor']);
  });
});

describe('OrderBook capacity', () => {
  it('lets an incoming bid fill up to its capacity, oldest asks first, and rests the remainder', () => {
    const book = new OrderBook();
    book.addAsk(ask('a1')); // seq 1
    book.addAsk(ask('a2')); // seq 2
    book.addAsk(ask('a3')); // seq 3
    // seq 4: capacity 2 → a1 then a2, both matched at seq 4; a3 keeps resting
    expect(book.addBid(bid('b1', { capacity: 2 })).map((f) => [f.askId, f.matchedAt])).toEqual([
      ['a1', 4],
      ['a2', 4],
    ]);
    expect(book.snapshot().bids).toEqual([]);
    // seq 5: capacity 3 → fills a3, 2 units rest
    expect(book.addBid(bid('b2', { capacity: 3, price: 6 })).map((f) => f.askId)).toEqual(['a3']);
    expect(book.snapshot().bids).toEqual([
      {
        id: 'b2',
        workerId: 'w-b2',
        capability: 'summarize',
        price: 6,
        estimatedMs: 1000,
        capacity: 3,
        remaining: 2,
        seq: 5,
      },
    ]);
    // seq 6 and 7: two more asks use up the remaining 2 units; seq 8 rests
    expect(book.addAsk(ask('a4'))).toEqual([expect.objectContaining({ bidId: 'b2', askedAt: 6, matchedAt: 6 })]);
    expect(book.snapshot().bids[0].remaining).toBe(1);
    expect(book.addAsk(ask('a5')).map((f) => f.bidId)).toEqual(['b2']);
    expect(book.addAsk(ask('a6'))).toEqual([]);
    expect(book.snapshot()).toEqual(
      expect.objectContaining({ bids: [], asks: [expect.objectContaining({ id: 'a6', seq: 8 })] }),
    );
  });

  it('keeps a partly used bid in its time priority', () => {
    const book = new OrderBook();
    book.addBid(bid('multi', { capacity: 2, price: 5 })); // seq 1
    book.addBid(bid('single', { price: 5 })); // seq 2
    // both price 5; multi (seq 1) wins twice before single gets a turn
    expect([book.addAsk(ask('a1')), book.addAsk(ask('a2')), book.addAsk(ask('a3'))].map((f) => f[0]?.bidId)).toEqual([
      'multi',
      'multi',
      'single',
    ]);
  });
});

describe('OrderBook cancel, expire and reprice', () => {
  it('cancels resting orders so they no longer match', () => {
    const book = new OrderBook();
    book.addAsk(ask('a1'));
    book.addBid(bid('b1', { capability: 'translate' }));
    expect(book.cancel('a1')).toBe(true);
    expect(book.cancel('a1')).toBe(false); // no longer resting
    expect(book.cancel('nope')).toBe(false);
    expect(book.addBid(bid('b2'))).toEqual([]); // would have crossed a1
    expect(book.cancel('b1')).toBe(true);
    expect(book.snapshot().bids.map((b) => b.id)).toEqual(['b2']);
    expect(() => book.addAsk(ask('a1'))).toThrow(/ask\.id "a1" is already used/);
  });

  it('expires resting orders whose deadline or expiry has been reached and reports them', () => {
    const book = new OrderBook();
    // none of these cross: the asks' budget 1 is below every price
    book.addAsk(ask('a100', { budget: 1, deadline: 100 }), 0);
    book.addAsk(ask('a300', { budget: 1, deadline: 300 }));
    book.addAsk(ask('forever', { budget: 1 }));
    book.addBid(bid('b200', { expiresAt: 200 }));
    book.addBid(bid('b150', { expiresAt: 150, price: 4 }));
    book.addBid(bid('bforever'));
    // at 200: a100 (100 <= 200), b150 (150 <= 200) and b200 (200 <= 200) expire; bids in price order
    const report = book.expire(200);
    expect(report.expiredAsks.map((a) => a.id)).toEqual(['a100']);
    expect(report.expiredBids.map((b) => b.id)).toEqual(['b150', 'b200']);
    expect(book.snapshot().asks.map((a) => a.id)).toEqual(['a300', 'forever']);
    expect(book.snapshot().bids.map((b) => b.id)).toEqual(['bforever']);
    expect(book.expire(250)).toEqual({ expiredAsks: [], expiredBids: [] });
    expect(book.expire(300).expiredAsks.map((a) => a.id)).toEqual(['a300']);
    expect(book.now).toBe(300);
    expect(book.expire(10)).toEqual({ expiredAsks: [], expiredBids: [] }); // time never moves back
    expect(book.now).toBe(300);
  });

  it('reprices a resting ask so that it crosses, matching at the bid price', () => {
    const book = new OrderBook();
    book.addAsk(ask('a1', { budget: 5 })); // seq 1
    book.addBid(bid('b1', { price: 8 })); // seq 2, 8 > 5: rests
    expect(book.reprice('a1', 7)).toEqual([]); // seq 3, still 8 > 7
    expect(book.snapshot().asks).toEqual([{ id: 'a1', capability: 'summarize', budget: 7, seq: 1 }]);
    // seq 4: budget 12 >= 8 → fill at 8; askedAt keeps the original seq 1
    expect(book.reprice('a1', 12)).toEqual([
      {
        fillId: 'a1:b1',
        askId: 'a1',
        bidId: 'b1',
        workerId: 'w-b1',
        capability: 'summarize',
        price: 8,
        askedAt: 1,
        bidAt: 2,
        matchedAt: 4,
      },
    ]);
    expect(() => book.reprice('a1', 20)).toThrow(/not resting/);
    expect(() => book.reprice('ghost', 20)).toThrow(/not resting/);
  });

  it('keeps a repriced ask in its original time priority', () => {
    const book = new OrderBook();
    book.addAsk(ask('old', { budget: 2 })); // seq 1
    book.addAsk(ask('new', { budget: 10 })); // seq 2
    expect(book.reprice('old', 10)).toEqual([]);
    expect(book.addBid(bid('b1', { price: 8 })).map((f) => f.askId)).toEqual(['old']);
  });
});

describe('OrderBook validation', () => {
  it.each<[string, Partial<Ask>, RegExp]>([
    ['zero budget', { budget: 0 }, /ask\.budget must be a positive finite number \(got 0\)/],
    ['negative budget', { budget: -3 }, /ask\.budget/],
    ['NaN budget', { budget: NaN }, /ask\.budget/],
    ['empty id', { id: '' }, /ask\.id must be a non-empty string/],
    ['empty capability', { capability: '' }, /ask\.capability/],
    ['zero maxEstimatedMs', { maxEstimatedMs: 0 }, /ask\.maxEstimatedMs/],
    ['infinite deadline', { deadline: Infinity }, /ask\.deadline must be a finite number/],
  ])('rejects an ask with %s', (_, over, message) => {
    expect(() => new OrderBook().addAsk(ask('a1', over))).toThrow(message);
  });

  it.each<[string, Partial<Bid>, RegExp]>([
    ['zero price', { price: 0 }, /bid\.price must be a positive finite number/],
    ['infinite price', { price: Infinity }, /bid\.price/],
    ['negative estimate', { estimatedMs: -1 }, /bid\.estimatedMs/],
    ['capacity 0', { capacity: 0 }, /bid\.capacity must be a positive integer/],
    ['fractional capacity', { capacity: 1.5 }, /bid\.capacity/],
    ['empty workerId', { workerId: '' }, /bid\.workerId/],
  ])('rejects a bid with %s', (_, over, message) => {
    expect(() => new OrderBook().addBid(bid('b1', over))).toThrow(message);
  });

  it('rejects duplicate ids across asks and bids, including filled ones, without changing the book', () => {
    const book = new OrderBook();
    book.addAsk(ask('x1', { budget: 1 })); // seq 1
    expect(() => book.addAsk(ask('x1'))).toThrow(/already used/);
    expect(() => book.addBid(bid('x1'))).toThrow(/already used/);
    book.addBid(bid('b1', { price: 1 })); // seq 2, fills x1
    expect(() => book.addBid(bid('b1'))).toThrow(/bid\.id "b1" is already used/);
    expect(() => book.reprice('x1', -1)).toThrow(/newBudget/);
    expect(() => book.addAsk(ask('a2'), NaN)).toThrow(/now must be a finite number/);
    // failures took no sequence numbers: the next order is seq 3
    expect(book.snapshot().seq).toBe(2);
    book.addAsk(ask('a3', { budget: 1 }));
    expect(book.snapshot().asks).toEqual([{ id: 'a3', capability: 'summarize', budget: 1, seq: 3 }]);
  });

  it('encodes ids in fill ids so different pairs cannot collide', () => {
    const book = new OrderBook();
    book.addBid(bid('c'));
    const [first] = book.addAsk(ask('a:b'));
    book.addBid(bid('b:c'));
    const [second] = book.addAsk(ask('a'));
    expect(first.fillId).toBe('a%3Ab:c');
    expect(second.fillId).toBe('a:b%3Ac');
  });

  it('returns snapshots that are copies', () => {
    const book = new OrderBook();
    book.addAsk(ask('a1', { budget: 1 }));
    const snap = book.snapshot();
    snap.asks.pop();
    expect(book.snapshot().asks).toHaveLength(1);
  });
});

describe('OrderBook determinism', () => {
  it('produces the same fills from the same sequence', () => {
    // Hand trace: b1 (seq 1, price 6, capacity 2) rests; a1 (seq 2, budget 4) rests since 6 > 4;
    // b2 (seq 3, price 3) fills a1 at 3; a2 (seq 4) takes b1 at 6; a3 (seq 5, budget 7) takes
    // b1's second unit at 6; nothing is left to expire at 600.
    const run = (book: OrderBook) => [
      book.addBid(bid('b1', { price: 6, capacity: 2 }), 10),
      book.addAsk(ask('a1', { budget: 4, deadline: 500 }), 20),
      book.addBid(bid('b2', { price: 3 }), 30),
      book.addAsk(ask('a2'), 40),
      book.addAsk(ask('a3', { budget: 7 }), 50),
      book.expire(600),
      book.snapshot(),
    ];
    const first = run(new OrderBook());
    expect(run(new OrderBook())).toEqual(first);
    expect(first[2]).toEqual([expect.objectContaining({ fillId: 'a1:b2', price: 3, askedAt: 2, matchedAt: 3 })]);
    expect(first[3]).toEqual([expect.objectContaining({ fillId: 'a2:b1', price: 6, askedAt: 4, matchedAt: 4 })]);
    expect(first[4]).toEqual([expect.objectContaining({ fillId: 'a3:b1', price: 6, askedAt: 5, matchedAt: 5 })]);
    expect(first[6]).toEqual({ asks: [], bids: [], time: 600, seq: 5 });
  });
});

describe('OrderBooks', () => {
  it('keeps one independent book per market', () => {
    const books = new OrderBooks();
    books.book('gpu').addBid(bid('b1', { price: 2 }));
    // same id in another market is fine; the bid in "gpu" does not serve "cpu"
    expect(books.book('cpu').addAsk(ask('b1', { budget: 5 }))).toEqual([]);
    expect(
      books
        .book('gpu')
        .addAsk(ask('a1', { budget: 5 }))
        .map((f) => f.bidId),
    ).toEqual(['b1']);
    expect(books.markets()).toEqual(['cpu', 'gpu']);
    expect(books.has('tpu')).toBe(false);
    expect(books.get('tpu')).toBeUndefined();
    expect(() => books.book('')).toThrow(/market must be a non-empty string/);
  });

  it('expires every market and reports only those where something expired', () => {
    const books = new OrderBooks();
    books.book('b-market').addAsk(ask('a1', { deadline: 50 }));
    books.book('a-market').addBid(bid('x', { expiresAt: 40 }));
    books.book('c-market').addAsk(ask('a2'));
    const reports = books.expire(60);
    expect(reports.map((r) => [r.market, r.expiredAsks.map((a) => a.id), r.expiredBids.map((b) => b.id)])).toEqual([
      ['a-market', [], ['x']],
      ['b-market', ['a1'], []],
    ]);
    expect(books.delete('c-market')).toBe(true);
    expect(books.markets()).toEqual(['a-market', 'b-market']);
  });
});
