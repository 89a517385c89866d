import { bidPriceFactor, quoteBid } from './bid-pricing';

describe('bid pricing', () => {
  it('prices by skill, text size, load and the worker’s factor', () => {
    // keywords: base 1, 100 ms. 200 characters → size 1.2.
    expect(quoteBid({ skill: 'keywords', textLength: 200, load: 0, factor: 1 })).toEqual({
      price: 1.2,
      estimatedMs: 120,
    });
    // load 2 → busy 3: 1 × 1.2 × 3 = 3.6; 100 × 1.2 × 3 = 360
    expect(quoteBid({ skill: 'keywords', textLength: 200, load: 2, factor: 1 })).toEqual({
      price: 3.6,
      estimatedMs: 360,
    });
    // factor 0.5: 0.6; the estimate does not depend on the factor
    expect(quoteBid({ skill: 'keywords', textLength: 200, load: 0, factor: 0.5 })).toEqual({
      price: 0.6,
      estimatedMs: 120,
    });
    // summarize: base 2, 200 ms; 1 500 characters → size 2.5: 2 × 2.5 = 5; 200 × 2.5 = 500
    expect(quoteBid({ skill: 'summarize', textLength: 1500, load: 0, factor: 1 })).toEqual({
      price: 5,
      estimatedMs: 500,
    });
    // an unknown skill: base 1, 100 ms; 37 characters → 1.037 × 0.8 = 0.8296 → 0.83; 103.7 → 104
    expect(quoteBid({ skill: 'custom', textLength: 37, load: 0, factor: 0.8 })).toEqual({
      price: 0.83,
      estimatedMs: 104,
    });
  });

  it('never bids below 0.01', () => {
    expect(quoteBid({ skill: 'estimate', textLength: 0, load: 0, factor: 0.001 }).price).toBe(0.01);
  });

  it('refuses nonsense', () => {
    expect(() => quoteBid({ skill: 'keywords', textLength: -1, load: 0, factor: 1 })).toThrow(/textLength/);
    expect(() => quoteBid({ skill: 'keywords', textLength: 1, load: 0.5, factor: 1 })).toThrow(/load/);
    expect(() => quoteBid({ skill: 'keywords', textLength: 1, load: 0, factor: 0 })).toThrow(/factor/);
  });

  it('reads BID_PRICE_FACTOR', () => {
    expect(bidPriceFactor(undefined)).toBe(1);
    expect(bidPriceFactor('')).toBe(1);
    expect(bidPriceFactor('0.5')).toBe(0.5);
    expect(() => bidPriceFactor('cheap')).toThrow(/BID_PRICE_FACTOR/);
    expect(() => bidPriceFactor('-1')).toThrow(/BID_PRICE_FACTOR/);
  });
});
