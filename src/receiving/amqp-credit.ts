import { type Delivery, type Receiver } from 'rhea';

// While the database is unavailable, the first release starts a backoff of this long, doubling up
// to the maximum while releases go on.
export const RETRY_INITIAL_MS = 250;
export const RETRY_MAX_MS = 5_000;

/** rhea keeps a receiver's credit in a field it has no setter for. */
interface ReceiverInternals {
  credit: number;
  issue_flow: boolean;
  connection: { _register(): void };
}

/**
 * The credit of one receiving link. Flowing, it keeps `prefetch` messages received and not yet
 * settled. A release (the database is unavailable) first withdraws every credit and only then
 * releases, so the broker cannot hand the message straight back: AMQP credit is what the broker
 * may still send, and a released message is the first it would send on it. After the backoff one
 * credit is given, a probe: the next accept or reject means the database answers again and the
 * link flows; another release backs off twice as long.
 */
export class LinkCredit {
  private unsettled = 0;
  private state: 'flowing' | 'waiting' | 'probing' = 'flowing';
  private delay = RETRY_INITIAL_MS;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly receiver: Receiver,
    private readonly prefetch: number,
  ) {}

  /** A fresh link has no credit. */
  open(): void {
    this.receiver.add_credit(this.prefetch);
  }

  received(): void {
    this.unsettled++;
  }

  /** Settles the delivery as done (accepted or rejected): its credit comes back. */
  settle(delivery: Delivery, settle: (delivery: Delivery) => void): void {
    if (this.closed) {
      return;
    }
    settle(delivery);
    this.unsettled--;
    if (this.state !== 'flowing') {
      this.state = 'flowing';
      this.delay = RETRY_INITIAL_MS;
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.refill();
  }

  /** A delivery of a link that is gone cannot be settled: the broker delivers it again. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Releases the delivery once the link has no credit left, and backs off. */
  release(delivery: Delivery): void {
    if (this.closed) {
      return;
    }
    this.withdraw();
    // rhea writes a pass's dispositions before its flows: the flow that withdraws the credit
    // goes out first, in the pass that runs on the next tick, and the release after it.
    setImmediate(() => {
      if (!this.closed) {
        delivery.release();
      }
      this.unsettled--;
    });
    if (this.state === 'waiting') {
      return;
    }
    this.state = 'waiting';
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed && this.state === 'waiting') {
        this.state = 'probing';
        this.receiver.add_credit(1);
      }
    }, this.delay);
    this.delay = Math.min(this.delay * 2, RETRY_MAX_MS);
  }

  /** The link is gone: nothing more is settled or credited on it. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private refill(): void {
    const internals = this.receiver as unknown as ReceiverInternals;
    const missing = this.prefetch - this.unsettled - internals.credit;
    if (missing > 0) {
      this.receiver.add_credit(missing);
    }
  }

  private withdraw(): void {
    const internals = this.receiver as unknown as ReceiverInternals;
    if (internals.credit === 0) {
      return;
    }
    internals.credit = 0;
    internals.issue_flow = true;
    internals.connection._register();
  }
}
