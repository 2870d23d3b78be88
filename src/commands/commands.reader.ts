import { Inject, Injectable } from '@nestjs/common';
import type pg from 'pg';
import {
  DATABASE_POOL,
  DATABASE_PROFILE,
  type DatabaseProfile,
} from '../database/database.module.js';
import {
  type CountsQuery,
  type HistoryPageQuery,
  type ListCommandsQuery,
} from './dto/read-queries.js';
import { encodeHistoryCursor, encodeListCursor } from './read-cursors.js';
import { countsStatement } from './sql/counts.js';
import {
  FIND_WITH_HISTORY_SQL,
  HISTORY_PAGE_SQL,
  type ListOrder,
  listStatement,
} from './sql/read.js';

interface HistoryPageRow {
  known: boolean;
  items_json: string;
  last_id: string | null;
  more: boolean;
}

/**
 * The read routes' bodies, as JSON text made by PostgreSQL (sql/read.ts) and sent as it is.
 * A short body stays a string: a Buffer is memory outside V8's heap, and under the heap cap
 * (npm start) V8 answers that churn with full collections, while a short string is
 * young-generation garbage. A long one (up to 4 MB) becomes a Buffer at once: strings that long
 * live in the old generation anyway, and a few of them waiting for slow clients would fill the
 * capped heap.
 */
@Injectable()
export class CommandsReader {
  constructor(
    @Inject(DATABASE_POOL) private readonly pool: pg.Pool,
    @Inject(DATABASE_PROFILE) private readonly profile: DatabaseProfile,
  ) {}

  /** GET /commands/{commandId}'s body, or undefined when the command is unknown. */
  async lookupJson(commandId: string): Promise<ResponseBody | undefined> {
    const { rows } = await this.pool.query<[string]>({
      name: this.profile.preparedStatements ? 'find_with_history' : undefined,
      text: FIND_WITH_HISTORY_SQL,
      values: [commandId],
      rowMode: 'array',
    });
    const json = rows[0]?.[0];
    return json === undefined ? undefined : asBody(json);
  }

  /** GET /commands/{commandId}/history's body, or undefined when the command is unknown. */
  async historyPageJson(
    commandId: string,
    query: HistoryPageQuery,
  ): Promise<ResponseBody | undefined> {
    const { rows } = await this.pool.query<HistoryPageRow>({
      name: this.profile.preparedStatements ? 'history_page' : undefined,
      text: HISTORY_PAGE_SQL,
      values: [commandId, query.cursor ?? '0', query.limit],
    });
    const page = rows[0];
    if (!page.known) {
      return undefined;
    }
    const next = page.more && page.last_id !== null ? encodeHistoryCursor(page.last_id) : null;
    return asBody(`{"items":[${page.items_json}],"nextCursor":${JSON.stringify(next)}}`);
  }

  /** GET /commands' body: `{"items":[...],"nextCursor":...}`. */
  async listJson(query: ListCommandsQuery): Promise<ResponseBody> {
    const statement = listStatement({
      deviceId: query.deviceId,
      deviceIdPrefix: query.deviceIdPrefix,
      statuses: query.status,
      since: query.since,
      until: query.until,
      updatedBefore: query.updatedBefore,
      order: query.order,
      campaignId: query.campaignId,
      after: query.cursor,
      limit: query.limit,
    });
    // Arrays, not objects, per row: the one column is all there is to read.
    const { rows } = await this.pool.query<[string | null]>({
      ...statement,
      name: this.profile.preparedStatements ? statement.name : undefined,
      rowMode: 'array',
    });
    // A last row without JSON says that another page follows (see listStatement).
    const more = rows.length > 0 && rows[rows.length - 1][0] === null;
    const items = (more ? rows.slice(0, -1) : rows) as [string][];
    const next = more
      ? encodeListCursor({
          order: query.order,
          ...keysetOf(items[items.length - 1][0], query.order),
        })
      : null;
    return asBody(
      `{"items":[${items.map(([json]) => json).join(',')}],"nextCursor":${JSON.stringify(next)}}`,
    );
  }

  /** GET /analytics/counts' body: `{"total":N,"groups":[{"key":{...},"count":N}]}`. */
  async countsJson(query: CountsQuery): Promise<string> {
    const statement = countsStatement(
      {
        deviceId: query.deviceId,
        deviceIdPrefix: query.deviceIdPrefix,
        statuses: query.status,
        since: query.since,
        until: query.until,
        updatedBefore: query.updatedBefore,
        campaignId: query.campaignId,
      },
      query.groupBy,
      query.limit,
    );
    // Unnamed: each execution is planned for its values, so a filter on few rows uses its index.
    const { rows } = await this.pool.query<{ key?: string; count?: string; total: string }>(
      statement,
    );
    const total = rows[0]?.total ?? '0';
    const groups =
      query.groupBy === undefined
        ? ''
        : rows.map((row) => `{"key":${row.key},"count":${row.count}}`).join(',');
    return `{"total":${total},"groups":[${groups}]}`;
  }
}

export type ResponseBody = string | Buffer;

// V8 allocates strings above this size in its large-object space, in the old generation.
const LONG_BODY_CHARACTERS = 128 * 1024;

function asBody(json: string): ResponseBody {
  return json.length > LONG_BODY_CHARACTERS ? Buffer.from(json) : json;
}

/**
 * A listed command's keyset in `order`, read from its stored JSON without parsing it all (it may
 * hold 128 KB of resultDetail and paras). commandId is the first key: its JSON string ends at the
 * first `,"deviceId":`, which an encoded string cannot contain (its quotes are escaped). createdAt
 * and updatedAt follow paras, whose keys may be anything: the last `,"createdAt":"` (or
 * `,"updatedAt":"`) is the command's own, as nothing after it is free text. Its value is the
 * time as docs/api.md gives times, to the millisecond, which is the column's precision
 * (timestamptz(3)).
 */
export function keysetOf(apiJson: string, order: ListOrder): { at: string; commandId: string } {
  const commandId = JSON.parse(
    apiJson.slice(COMMAND_ID_AT, apiJson.indexOf(',"deviceId":', COMMAND_ID_AT)),
  ) as string;
  const key = order === 'newest' ? CREATED_AT : UPDATED_AT;
  const at = apiJson.lastIndexOf(key) + key.length;
  return { at: apiJson.slice(at, at + ISO_TIME_LENGTH), commandId };
}

const COMMAND_ID_AT = '{"commandId":'.length;
const CREATED_AT = ',"createdAt":"';
const UPDATED_AT = ',"updatedAt":"';
const ISO_TIME_LENGTH = '2026-11-26T05:00:00.000Z'.length;
