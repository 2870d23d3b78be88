import { type FeedPosition } from '../feed/feed-position.js';
import { type SinkCursors } from './sink-cursors.js';

// The lease: renewed every RENEW_MS, lost when not renewed for LEASE_MS (a dead holder's sink is
// taken over by then, plus up to CLAIM_RETRY_MS).
export const LEASE_MS = 10_000;
const RENEW_MS = 3_000;
export const CLAIM_RETRY_MS = 2_000;
// Stop delivering this long before the lease would run out unrenewed, so that a late holder never
// overlaps the next one.
const LEASE_MARGIN_MS = 2_000;

/** A held lease of one sink: renews itself, and aborts `lost` once it cannot be sure it holds it. */
export class Lease {
  private readonly lostController = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private expiry: NodeJS.Timeout | undefined;
  private validUntil = 0;

  constructor(
    private readonly cursors: SinkCursors,
    private readonly sink: string,
    private readonly holder: string,
    claimedAt: number,
  ) {
    this.extend(claimedAt);
    this.timer = setInterval(() => void this.renew(), RENEW_MS);
  }

  get lost(): AbortSignal {
    return this.lostController.signal;
  }

  get valid(): boolean {
    return !this.lost.aborted && Date.now() < this.validUntil;
  }

  async advance(position: FeedPosition): Promise<boolean> {
    if (!this.valid || !(await this.cursors.advance(this.sink, this.holder, position))) {
      this.end();
      return false;
    }
    return true;
  }

  end(): void {
    clearInterval(this.timer);
    clearTimeout(this.expiry);
    this.lostController.abort();
  }

  /** Valid until LEASE_MS - LEASE_MARGIN_MS after `sentAt`, when the claim or renewal was sent. */
  private extend(sentAt: number): void {
    if (this.lost.aborted) {
      return;
    }
    this.validUntil = sentAt + LEASE_MS - LEASE_MARGIN_MS;
    clearTimeout(this.expiry);
    // Unrenewed (the database unreachable), the lease is given up before it can run out.
    this.expiry = setTimeout(() => this.end(), Math.max(0, this.validUntil - Date.now()));
  }

  private async renew(): Promise<void> {
    const sentAt = Date.now();
    try {
      if (await this.cursors.renew(this.sink, this.holder, LEASE_MS)) {
        this.extend(sentAt);
      } else {
        this.end();
      }
    } catch {
      // The expiry timer ends the lease unless a later renewal succeeds.
    }
  }
}
