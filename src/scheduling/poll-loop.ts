/**
 * A background task run again and again, one run at a time: the next run starts the delay after
 * the previous one ended that the run returned (or, when it threw, that `failed` returned). Its
 * timer never keeps the process alive, and stop() waits for the run in progress. The deadline
 * sweeper, the reconciler, the dispatch sender and the campaign releaser each run on one, and keep
 * nothing in memory per row they handle: the rows wait in the database.
 */
export class PollLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;

  constructor(
    private readonly run: () => Promise<number>,
    private readonly failed: (error: unknown) => number,
  ) {}

  /** Whether stop() was called: a long run checks it between steps. */
  get stopped(): boolean {
    return this.stopping;
  }

  start(delayMs: number): void {
    this.schedule(delayMs);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopping) {
      return;
    }
    this.timer = setTimeout(() => {
      this.running = this.run()
        .catch((error: unknown) => this.failed(error))
        .then((next) => {
          this.running = undefined;
          this.schedule(next);
        });
    }, delayMs);
    this.timer.unref();
  }
}
