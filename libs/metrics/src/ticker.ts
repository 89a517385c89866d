/**
 * Runs `work` now and every `periodMs` (0: never), one run at a time: a tick that comes while
 * the last run is still going (a broker slow to answer) is skipped, not queued. `failed` hears
 * each failure with whether the previous run had failed too, so it can log once per outage.
 */
export class Ticker {
  private timer?: NodeJS.Timeout;
  private running = false;
  private failing = false;

  constructor(
    private readonly periodMs: number,
    private readonly work: () => Promise<void>,
    private readonly failed: (error: unknown, alreadyFailing: boolean) => void,
  ) {}

  start(): void {
    if (this.periodMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.periodMs);
    this.timer.unref();
    void this.tick();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One run (skipped while one is going); resolves when it is done. */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.work();
      this.failing = false;
    } catch (error) {
      this.failed(error, this.failing);
      this.failing = true;
    } finally {
      this.running = false;
    }
  }
}
