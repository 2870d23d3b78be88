import { type ServerResponse } from 'node:http';

/** Bytes shared out among holders, first come first served. */
export class ByteBudget {
  private free: number;
  private readonly waiting: { bytes: number; grant: () => void }[] = [];

  constructor(readonly capacity: number) {
    this.free = capacity;
  }

  /** Holds `bytes` (at most the capacity) if they are free now and nobody waits for them. */
  tryTake(bytes: number): HeldBytes | undefined {
    const wanted = Math.min(bytes, this.capacity);
    if (this.waiting.length === 0 && this.free >= wanted) {
      this.free -= wanted;
      return new HeldBytes(this, wanted);
    }
    return undefined;
  }

  /** Waits until `bytes` (at most the capacity) are free, and holds them. */
  async take(bytes: number): Promise<HeldBytes> {
    const held = this.tryTake(bytes);
    if (held !== undefined) {
      return held;
    }
    const wanted = Math.min(bytes, this.capacity);
    await new Promise<void>((grant) => this.waiting.push({ bytes: wanted, grant }));
    return new HeldBytes(this, wanted);
  }

  /** For HeldBytes: bytes given back. */
  give(bytes: number): void {
    this.free += bytes;
    for (let next = this.waiting[0]; next !== undefined && next.bytes <= this.free;) {
      this.waiting.shift();
      this.free -= next.bytes;
      next.grant();
      next = this.waiting[0];
    }
  }

  get available(): number {
    return this.free;
  }
}

export class HeldBytes {
  constructor(
    private readonly budget: ByteBudget,
    private held: number,
  ) {}

  /** Keeps no more than `bytes`, giving the rest back. */
  keep(bytes: number): void {
    if (bytes < this.held) {
      this.budget.give(this.held - bytes);
      this.held = bytes;
    }
  }

  release(): void {
    this.keep(0);
  }
}

/**
 * Bounds the memory that read responses take in this process: the body being read from the
 * database, and then the body being sent until the client has it all. A response can be up to
 * maxBodyBytes; a slow client holds its body until it has read it. Each request holds that much
 * while its body is made, then its body's size until the response is closed, out of one budget;
 * when the budget is spent, further reads wait for it. A read that answers a short body holds
 * the maximum only while its query runs, no longer than the database takes anyway.
 */
export class ResponseBudget {
  private readonly budget: ByteBudget;

  constructor(
    private readonly maxBodyBytes: number,
    capacity: number,
  ) {
    this.budget = new ByteBudget(capacity);
  }

  /** The body `make` gives, made and sent within the budget (until `response` closes). */
  async within<T>(response: ServerResponse, make: () => Promise<T>): Promise<T> {
    // Without waiting when the budget allows, as it does but under a burst of large reads.
    const held =
      this.budget.tryTake(this.maxBodyBytes) ?? (await this.budget.take(this.maxBodyBytes));
    // 'close' comes once the body is handed to the socket, or when the client went away.
    response.once('close', () => held.release());
    if (response.closed) {
      held.release();
    }
    try {
      const body = await make();
      held.keep(heldBy(body));
      return body;
    } catch (error) {
      held.release();
      throw error;
    }
  }
}

// What a body takes: a string's characters take one or two bytes each in V8's heap.
function heldBy(body: unknown): number {
  if (typeof body === 'string') {
    return body.length * 2;
  }
  return Buffer.isBuffer(body) ? body.length : 0;
}
