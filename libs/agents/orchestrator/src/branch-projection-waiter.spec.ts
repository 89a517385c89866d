import { BranchProjectionWaiter } from './branch-projection-waiter';

describe('BranchProjectionWaiter', () => {
  afterEach(() => jest.useRealTimers());

  it('re-checks when a branch of the step is recorded, without waiting for a poll', async () => {
    jest.useFakeTimers(); // no poll fires unless the test advances time
    const waiter = new BranchProjectionWaiter();
    let projected = false;
    let checks = 0;
    const outcome = waiter.waitUntil('wf-1', 'root', async () => {
      checks++;
      return projected;
    });
    await flush();
    expect(checks).toBe(1);

    waiter.branchRecorded('wf-1', 'root.other'); // another step: no wake-up
    await flush();
    expect(checks).toBe(1);

    projected = true;
    waiter.branchRecorded('wf-1', 'root');
    await expect(outcome).resolves.toBe(true);
    expect(checks).toBe(2);
  });

  it('polls when nothing is recorded here (another instance may record it), and gives up at the deadline', async () => {
    jest.useFakeTimers();
    const waiter = new BranchProjectionWaiter();
    let checks = 0;
    const outcome = waiter.waitUntil(
      'wf-2',
      'root',
      async () => {
        checks++;
        return false;
      },
      1_000,
    );
    await jest.advanceTimersByTimeAsync(1_000);
    await expect(outcome).resolves.toBe(false);
    // 2, 4, 8, 16, 32, then every 50 ms: far fewer checks than milliseconds waited, more than one.
    expect(checks).toBeGreaterThan(10);
    expect(checks).toBeLessThan(30);
  });
});

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}
