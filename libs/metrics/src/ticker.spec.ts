import { Ticker } from './ticker';

describe('Ticker', () => {
  it('runs at once and on every period, never two runs at a time, and stops', async () => {
    let runs = 0;
    let release!: () => void;
    const ticker = new Ticker(
      10,
      () => {
        runs++;
        return new Promise<void>((resolve) => (release = resolve));
      },
      () => undefined,
    );
    ticker.start();
    expect(runs).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 50)); // ticks while the first run hangs are skipped
    expect(runs).toBe(1);
    release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(runs).toBeGreaterThan(1);
    ticker.stop();
    release();
    const after = runs;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(runs).toBe(after);
  });

  it('says whether a failure follows another, so an outage is logged once; period 0 never runs', async () => {
    const failures: boolean[] = [];
    let fail = true;
    const ticker = new Ticker(
      1000,
      async () => {
        if (fail) throw new Error('down');
      },
      (_error, alreadyFailing) => failures.push(alreadyFailing),
    );
    await ticker.tick();
    await ticker.tick();
    fail = false;
    await ticker.tick();
    fail = true;
    await ticker.tick();
    expect(failures).toEqual([false, true, false]);

    let ran = false;
    new Ticker(
      0,
      async () => void (ran = true),
      () => undefined,
    ).start();
    expect(ran).toBe(false);
  });
});
