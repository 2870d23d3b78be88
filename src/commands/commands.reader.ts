import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import { type PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { type HistoryPageQuery, type ListCommandsQuery } from './dto/read-queries.js';
import { encodeHistoryCursor, encodeListCursor } from './read-cursors.js';
import { FIND_WITH_HISTORY_SQL, HISTORY_PAGE_SQL, listStatement } from './read-statements.js';

interface HistoryPageRow {
  known: boolean;
  items_json: string;
  last_id: string | null;
  more: boolean;
}

/**
 * The read routes' bodies, as JSON text made by PostgreSQL (read-statements.ts) and sent as it is.
 * Strings, not Buffers: a Buffer is memory outside V8's heap, and under the heap cap (npm start)
 * V8 answers that churn with full collections; a string is young-generation garbage.
 */
@Injectable()
export class CommandsReader {
  private readonly pool: pg.Pool;
  // The embedded database is a single session shared by every connection the pool opens: a
  // statement prepared on a connection that was cut would still exist under its name there.
  private readonly prepares: boolean;

  constructor(@InjectDataSource() dataSource: DataSource, @Inject(APP_CONFIG) config: AppConfig) {
    this.pool = (dataSource.driver as PostgresDriver).master as pg.Pool;
    this.prepares = config.databaseUrl !== undefined;
  }

  /** GET /commands/{commandId}'s body, or undefined when the command is unknown. */
  async lookupJson(commandId: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<[string]>({
      name: this.prepares ? 'find_with_history' : undefined,
      text: FIND_WITH_HISTORY_SQL,
      values: [commandId],
      rowMode: 'array',
    });
    return rows[0]?.[0];
  }

  /** GET /commands/{commandId}/history's body, or undefined when the command is unknown. */
  async historyPageJson(commandId: string, query: HistoryPageQuery): Promise<string | undefined> {
    const { rows } = await this.pool.query<HistoryPageRow>({
      name: this.prepares ? 'history_page' : undefined,
      text: HISTORY_PAGE_SQL,
      values: [commandId, query.cursor ?? '0', query.limit],
    });
    const page = rows[0];
    if (!page.known) {
      return undefined;
    }
    const next = page.more && page.last_id !== null ? encodeHistoryCursor(page.last_id) : null;
    return `{"items":[${page.items_json}],"nextCursor":${JSON.stringify(next)}}`;
  }

  /** GET /commands' body: `{"items":[...],"nextCursor":...}`. */
  async listJson(query: ListCommandsQuery): Promise<string> {
    const statement = listStatement({
      deviceId: query.deviceId,
      statuses: query.status,
      since: query.since,
      until: query.until,
      after: query.cursor,
      limit: query.limit,
    });
    // Arrays, not objects, per row: the one column is all there is to read.
    const { rows } = await this.pool.query<[string | null]>({
      ...statement,
      name: this.prepares ? statement.name : undefined,
      rowMode: 'array',
    });
    // A last row without JSON says that another page follows (see listStatement).
    const more = rows.length > 0 && rows[rows.length - 1][0] === null;
    const items = (more ? rows.slice(0, -1) : rows) as [string][];
    const next = more ? encodeListCursor(keysetOf(items[items.length - 1][0])) : null;
    return `{"items":[${items.map(([json]) => json).join(',')}],"nextCursor":${JSON.stringify(next)}}`;
  }
}

/**
 * A listed command's keyset, read from its stored JSON: createdAt there is created_at as API.md
 * gives times, to the millisecond, which is the column's precision (timestamptz(3)).
 */
function keysetOf(apiJson: string): { createdAt: string; commandId: string } {
  const { createdAt, commandId } = JSON.parse(apiJson) as { createdAt: string; commandId: string };
  return { createdAt, commandId };
}
