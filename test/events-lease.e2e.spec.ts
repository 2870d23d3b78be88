import { DataSource } from 'typeorm';
import { SinkCursors } from '../src/events/sink-cursors.js';
import { type TestApp, startTestApp } from './support/test-app.js';

describe('events sinks: stored positions and leases', () => {
  let t: TestApp;
  let cursors: SinkCursors;

  beforeAll(async () => {
    t = await startTestApp();
    cursors = t.app.get(SinkCursors, { strict: false });
  });

  afterAll(async () => {
    await t.close();
  });

  const expire = (sink: string) =>
    t.app
      .get(DataSource)
      .query(`UPDATE event_sinks SET lease_until = now() - interval '1 second' WHERE sink = $1`, [
        sink,
      ]);

  it('gives a sink to one holder at a time, and fences a holder whose lease ran out', async () => {
    const start = await cursors.claim('amqp', 'a', 10_000);
    expect(start).toBeDefined();
    expect(await cursors.claim('amqp', 'b', 10_000)).toBeUndefined();
    expect(await cursors.renew('amqp', 'a', 10_000)).toBe(true);
    expect(await cursors.advance('amqp', 'a', { xid: 5n, id: 7n })).toBe(true);

    await expire('amqp');
    expect(await cursors.advance('amqp', 'a', { xid: 5n, id: 9n })).toBe(false);
    // The next holder resumes where the last confirmed position was stored.
    expect(await cursors.claim('amqp', 'b', 10_000)).toEqual({ xid: 5n, id: 7n });
    expect(await cursors.renew('amqp', 'a', 10_000)).toBe(false);
    expect(await cursors.advance('amqp', 'a', { xid: 6n, id: 1n })).toBe(false);
    expect(await cursors.claim('amqp', 'a', 10_000)).toBeUndefined();
  });

  it('hands a released sink over at once', async () => {
    expect(await cursors.claim('nats', 'a', 10_000)).toBeDefined();
    await cursors.release('nats', 'a');
    expect(await cursors.claim('nats', 'b', 10_000)).toBeDefined();
    expect(await cursors.renew('nats', 'a', 10_000)).toBe(false);
  });

  it('starts a new sink at the feed position a new stream starts from', async () => {
    const [{ xmin }] = await t.app
      .get(DataSource)
      .query<{ xmin: string }[]>(`SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`);
    const start = await cursors.claim('webhook', 'a', 10_000);
    expect(start?.id).toBe(0n);
    expect(start!.xid).toBeGreaterThanOrEqual(BigInt(xmin));
  });
});
