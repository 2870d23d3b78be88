import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { type FeedPosition } from '../feed/feed-position.js';
import {
  SINK_ADVANCE_SQL,
  SINK_CLAIM_SQL,
  SINK_LAG_SQL,
  SINK_RELEASE_SQL,
  SINK_RENEW_SQL,
} from './sink-statements.js';

/** The stored positions and leases of the events sinks (sink-statements.ts). */
@Injectable()
export class SinkCursors {
  constructor(private readonly dataSource: DataSource) {}

  /** Takes or renews the lease; the sink's confirmed position, or undefined if another holds it. */
  async claim(sink: string, holder: string, leaseMs: number): Promise<FeedPosition | undefined> {
    const rows = await this.dataSource.query<{ xid: string; id: string }[]>(SINK_CLAIM_SQL, [
      sink,
      holder,
      leaseMs,
    ]);
    return rows.length === 0 ? undefined : { xid: BigInt(rows[0].xid), id: BigInt(rows[0].id) };
  }

  /** Extends a held lease; false when `holder` no longer holds it. */
  async renew(sink: string, holder: string, leaseMs: number): Promise<boolean> {
    const rows = await this.dataSource.query<unknown[]>(SINK_RENEW_SQL, [sink, holder, leaseMs]);
    return rows.length > 0;
  }

  /** Stores the sink's confirmed position; false when `holder` no longer holds the lease. */
  async advance(sink: string, holder: string, position: FeedPosition): Promise<boolean> {
    const rows = await this.dataSource.query<unknown[]>(SINK_ADVANCE_SQL, [
      sink,
      holder,
      position.xid.toString(),
      position.id.toString(),
    ]);
    return rows.length > 0;
  }

  async release(sink: string, holder: string): Promise<void> {
    await this.dataSource.query(SINK_RELEASE_SQL, [sink, holder]);
  }

  /** Seconds each sink is behind (sinks never fed yet are absent). */
  async lagSeconds(sinks: readonly string[]): Promise<Map<string, number>> {
    const rows = await this.dataSource.query<{ sink: string; seconds: number }[]>(SINK_LAG_SQL, [
      sinks,
    ]);
    return new Map(rows.map((row) => [row.sink, Math.max(0, Number(row.seconds))]));
  }
}
