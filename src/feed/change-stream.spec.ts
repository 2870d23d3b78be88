import { type ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { type ChangeReader, type FeedListener } from './change-reader.js';
import { ChangeStream, MAX_UNSENT_BYTES } from './change-stream.js';
import { type ChangeFilter, type FeedChange } from './feed-change.js';
import { type FeedPosition, comparePositions } from './feed-position.js';

/** A response whose client reads nothing: what is written stays unsent. */
class UnreadResponse extends Writable {
  readonly chunks: string[] = [];
  status: number | undefined;
  constructor(private readonly reads: boolean) {
    super({ highWaterMark: 16 * 1024 });
  }
  writeHead(status: number): this {
    this.status = status;
    return this;
  }
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.chunks.push(chunk.toString());
    if (this.reads) {
      callback();
    }
  }
  events(): string[] {
    return this.chunks.join('').match(/^id: .+$/gm) ?? [];
  }
}

/** A reader over a fixed history whose head the test moves. */
class HistoryReader {
  readonly listeners = new Set<FeedListener>();
  released = 0;
  head: FeedPosition;
  replays = 0;
  /** Called before each replay answers: the test can move the head meanwhile. */
  onReplay: () => void = () => undefined;

  constructor(
    readonly history: FeedChange[],
    head: number,
  ) {
    this.head = history[head - 1].position;
  }

  async acquire(): Promise<void> {}
  release(): void {
    this.released++;
  }
  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  async replay(
    after: FeedPosition,
    upTo: FeedPosition,
    _filter: ChangeFilter,
    limit: number,
  ): Promise<FeedChange[]> {
    this.replays++;
    this.onReplay();
    return this.history
      .filter(
        (c) => comparePositions(c.position, after) > 0 && comparePositions(c.position, upTo) <= 0,
      )
      .slice(0, limit);
  }
  /** Passes history[from..to) to the listeners, as the real reader does. */
  pass(from: number, to: number): void {
    for (const change of this.history.slice(from, to)) {
      this.head = change.position;
      for (const listener of this.listeners) {
        listener.deliver(change);
      }
    }
  }
}

function change(index: number, bytes = 100): FeedChange {
  // Two changes per transaction: xid 100 + index / 2, history id index + 1.
  const position = { xid: 100n + BigInt(Math.floor(index / 2)), id: BigInt(index + 1) };
  return {
    position,
    commandId: `c${index}`,
    deviceId: 'd',
    status: 'SENT',
    data: '{}',
    receivedAtMs: 0,
    message: `id: ${position.xid}-${position.id}\ndata: ${'x'.repeat(bytes)}\n\n`,
  };
}

function open(reader: HistoryReader, response: UnreadResponse, after?: FeedPosition) {
  let ended = 0;
  const stream = new ChangeStream(
    response as unknown as ServerResponse,
    { filter: {}, after },
    reader as unknown as ChangeReader,
    60,
    () => ended++,
  );
  return { stream, ended: () => ended };
}

describe('ChangeStream', () => {
  const history = Array.from({ length: 1300 }, (_, index) => change(index));

  it('replays in pages up to a head that moves meanwhile, then joins with no gap and no repeat', async () => {
    const reader = new HistoryReader(history, 600);
    // While the stream replays, the reader passes changes 600..1100 on to its (other) listeners.
    reader.onReplay = () => {
      if (reader.replays === 2) {
        reader.pass(600, 1100);
      }
    };
    const response = new UnreadResponse(true);
    const { stream } = open(reader, response, history[9].position);
    await stream.run();
    expect(reader.listeners.has(stream)).toBe(true);
    reader.pass(1100, 1300);
    const expected = history.slice(9).map((c) => `id: ${c.position.xid}-${c.position.id}`);
    expect(response.events()).toEqual(expected);
    expect(reader.replays).toBeGreaterThanOrEqual(3);
  });

  it('skips the live changes up to where it resumed when that is ahead of the reader', async () => {
    const reader = new HistoryReader(history, 100);
    const response = new UnreadResponse(true);
    const { stream } = open(reader, response, history[149].position);
    await stream.run();
    expect(reader.replays).toBe(0);
    reader.pass(100, 200);
    expect(response.events()).toEqual(
      history.slice(149, 200).map((c) => `id: ${c.position.xid}-${c.position.id}`),
    );
  });

  it('starts a fresh stream with an id-only message naming the head it joins, then the changes after it', async () => {
    const reader = new HistoryReader(history, 40);
    const response = new UnreadResponse(true);
    const { stream } = open(reader, response);
    await stream.run();
    reader.pass(40, 45);
    const text = response.chunks.join('');
    expect(text.startsWith(`id: 119-40\n\n`)).toBe(true);
    expect(response.events()).toEqual(
      history.slice(39, 45).map((c) => `id: ${c.position.xid}-${c.position.id}`),
    );
  });

  it('ends a live stream whose client leaves more than the bound unsent, and releases the reader', async () => {
    const big = Array.from({ length: 3000 }, (_, index) => change(index, 1024));
    const reader = new HistoryReader(big, 1);
    const response = new UnreadResponse(false);
    const { stream, ended } = open(reader, response);
    await stream.run();
    expect(response.status).toBe(200);
    reader.pass(1, big.length);
    expect(response.writableEnded).toBe(true);
    expect(reader.listeners.size).toBe(0);
    expect(reader.released).toBe(1);
    expect(ended()).toBe(1);
    // What was written until the bound was passed, no more.
    expect(response.writableLength).toBeGreaterThan(MAX_UNSENT_BYTES);
    expect(response.writableLength).toBeLessThan(MAX_UNSENT_BYTES + 2 * 1100);
  });
});
