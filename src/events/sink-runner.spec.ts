import { type ChangeReader } from '../feed/change-reader.js';
import { type FeedChange } from '../feed/feed-change.js';
import { type FeedPosition, comparePositions } from '../feed/feed-position.js';
import { type EventMetrics } from './event-metrics.js';
import { type EventSink } from './event-sink.js';
import { type SinkCursors } from './sink-cursors.js';
import { SinkRunner, holdsOff, pauseAfterBatch } from './sink-runner.js';

describe('pauseAfterBatch', () => {
  it('catches up without waiting, and waits the read gap after a batch that was not full', () => {
    expect(pauseAfterBatch(0, 40, 500)).toBe(0);
    expect(pauseAfterBatch(999, 40, 500)).toBe(0);
    expect(pauseAfterBatch(999, 40, 12)).toBe(250);
  });

  it('yields to a burst of reports: four times the batch time, within bounds', () => {
    expect(pauseAfterBatch(5000, 100, 500)).toBe(400);
    expect(pauseAfterBatch(5000, 10, 500)).toBe(250);
    expect(pauseAfterBatch(5000, 1000, 500)).toBe(2000);
  });
});

describe('holdsOff', () => {
  it('only while the write path is busy and the sink was caught up within the budget', () => {
    expect(holdsOff(5000, 0, 30_000)).toBe(true);
    expect(holdsOff(5000, 29_999, 30_000)).toBe(true);
    expect(holdsOff(5000, 30_000, 30_000)).toBe(false);
    expect(holdsOff(1000, 0, 30_000)).toBe(false);
  });
});

/** The history as a fake reader serves it: `count` applied changes, positions 1 to count. */
function history(count: number): FeedChange[] {
  return Array.from({ length: count }, (_, index) => ({
    position: { xid: BigInt(index + 1), id: BigInt(index + 1) },
    commandId: `command-${index % 7}`,
    deviceId: 'device',
    status: 'SENT',
    data: '{}',
    receivedAtMs: 0,
    message: '',
  }));
}

/** What the runner uses of the reader, with a write path as busy as `commitsPerSecond`. */
class FakeReader {
  commitsPerSecond = 0;
  users = 0;
  acquired = 0;
  listener: { deliver(change: FeedChange): void } | undefined;
  // How many of the changes are committed (the reader's head); all of them unless set.
  committed: number;

  constructor(private readonly changes: FeedChange[]) {
    this.committed = changes.length;
  }

  get head(): FeedPosition {
    return this.committed === 0 ? { xid: 0n, id: 0n } : this.changes[this.committed - 1].position;
  }

  acquire(): Promise<void> {
    this.users++;
    this.acquired++;
    return Promise.resolve();
  }

  release(): void {
    this.users--;
  }

  cut(): Promise<FeedPosition> {
    return Promise.resolve(this.head);
  }

  subscribe(listener: { deliver(change: FeedChange): void }): () => void {
    this.listener = listener;
    return () => {
      this.listener = undefined;
    };
  }

  replay(after: FeedPosition, upTo: FeedPosition, _filter: object, limit: number) {
    return Promise.resolve(
      this.changes
        .filter(
          (change) =>
            comparePositions(change.position, after) > 0 &&
            comparePositions(change.position, upTo) <= 0,
        )
        .slice(0, limit),
    );
  }
}

function runner(reader: FakeReader, delivered: bigint[], maxLagSeconds: number) {
  const sink: EventSink = {
    name: 'nats',
    deliver(changes) {
      delivered.push(...changes.map((change) => change.position.id));
      return Promise.resolve();
    },
    connect: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  const cursors = {
    claim: () => Promise.resolve({ xid: 0n, id: 0n }),
    renew: () => Promise.resolve(true),
    advance: () => Promise.resolve(true),
    release: () => Promise.resolve(),
  } as unknown as SinkCursors;
  const metrics = {
    delivered: () => undefined,
    failed: () => undefined,
  } as unknown as EventMetrics;
  return new SinkRunner(
    sink,
    reader as unknown as ChangeReader,
    cursors,
    metrics,
    'holder',
    maxLagSeconds,
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) {
      throw new Error('timed out');
    }
    await sleep(20);
  }
}

describe('SinkRunner during a burst of reports', () => {
  const ids = (count: number) => Array.from({ length: count }, (_, index) => BigInt(index + 1));

  it('holds off without reading while the burst lasts, then delivers everything in order', async () => {
    const reader = new FakeReader(history(1200));
    reader.commitsPerSecond = 5000;
    const delivered: bigint[] = [];
    const sinkRunner = runner(reader, delivered, 60);
    sinkRunner.start();
    try {
      await sleep(600);
      expect(delivered).toEqual([]);
      expect(reader.acquired).toBe(0);
      reader.commitsPerSecond = 10;
      await until(() => delivered.length === 1200);
      expect(delivered).toEqual(ids(1200));
    } finally {
      await sinkRunner.stop();
    }
    expect(reader.users).toBe(0);
  });

  it('delivers once half of EVENTS_MAX_LAG_SECONDS has passed, however long the burst', async () => {
    const reader = new FakeReader(history(1200));
    reader.commitsPerSecond = 5000;
    const delivered: bigint[] = [];
    const sinkRunner = runner(reader, delivered, 1);
    const started = performance.now();
    sinkRunner.start();
    try {
      await until(() => delivered.length > 0);
      expect(performance.now() - started).toBeGreaterThanOrEqual(450);
      await until(() => delivered.length === 1200);
      expect(delivered).toEqual(ids(1200));
    } finally {
      await sinkRunner.stop();
    }
    expect(reader.users).toBe(0);
  });

  it('past the changes it may keep, reads back from the database, then listens again', async () => {
    const changes = history(6000);
    const reader = new FakeReader(changes);
    reader.committed = 0;
    const delivered: bigint[] = [];
    const sinkRunner = runner(reader, delivered, 60);
    sinkRunner.start();
    try {
      await until(() => reader.listener !== undefined);
      // Six thousand commits at once: more than the runner keeps.
      reader.committed = changes.length;
      for (const change of changes) {
        reader.listener?.deliver(change);
      }
      await until(() => delivered.length === 6000 && reader.listener !== undefined);
      expect(delivered).toEqual(ids(6000));
      expect(reader.acquired).toBe(2);
    } finally {
      await sinkRunner.stop();
    }
    expect(reader.users).toBe(0);
  });
});
