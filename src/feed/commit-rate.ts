/** Events counted in the current and the previous second, for a rate without timers. */
export class CommitRate {
  private second = 0;
  private current = 0;
  private previous = 0;

  constructor(private readonly now: () => number = Date.now) {}

  count(): void {
    this.roll();
    this.current++;
  }

  /** About the events of the last second. */
  perSecond(): number {
    this.roll();
    const into = (this.now() % 1000) / 1000;
    return this.current + this.previous * (1 - into);
  }

  private roll(): void {
    const second = Math.floor(this.now() / 1000);
    if (second !== this.second) {
      this.previous = second === this.second + 1 ? this.current : 0;
      this.current = 0;
      this.second = second;
    }
  }
}
