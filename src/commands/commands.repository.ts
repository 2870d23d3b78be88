import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import { type PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import {
  type CommandStatus,
  type ReportOutcome,
  type ReportSource,
  rankOf,
} from './command-status.js';
import { type ChangeFilter, type CommandChange } from './command-changes.js';
import {
  applyReportsSql,
  commandLockKey,
  lockCommandsSql,
  waitForCommandSql,
} from './apply-statements.js';
import { BUSY, type BatcherLimits, ReportBatcher, TooLateError } from './report-batcher.js';

/** One status report, from any source, as the rule sees it. */
export interface Report {
  commandId: string;
  deviceId: string;
  status: CommandStatus;
  resultDetail: unknown;
  /** The request body as received; null for the sweeper. */
  payload: unknown;
  source: ReportSource;
  /** Only registrations carry these. */
  registration?: {
    serviceId: string | null;
    method: string | null;
    paras: Record<string, unknown> | null;
    deadline: Date | null;
    timeoutSeconds: number | null;
  };
}

export type MismatchedField = 'deviceId' | 'serviceId' | 'method';

export type ApplyResult =
  | {
      kind: 'recorded';
      commandId: string;
      deviceId: string;
      status: CommandStatus;
      previousStatus: CommandStatus | null;
      outcome: ReportOutcome;
      created: boolean;
      version: number;
      eventId: string;
      receivedAt: Date;
      source: ReportSource;
    }
  | { kind: 'mismatch'; field: MismatchedField };

/** A list page: its items as JSON text (`{...},{...}`), and its last item's keyset when another page follows. */
export interface CommandListPage {
  itemsJson: string;
  next: { createdAt: string; commandId: string } | null;
}

export interface ListFilter {
  deviceId?: string;
  statuses?: CommandStatus[];
  since?: Date;
  until?: Date;
  /** Keyset: the last command of the previous page. */
  after?: { createdAt: Date; commandId: string };
  limit: number;
}

/**
 * The channel command-changes.ts LISTENs on. The write path sends nothing on it: the change feed
 * reads command_history itself (in xid order, see apply-statements.ts).
 */
export const CHANGES_CHANNEL = 'command_changes';

/** A timestamptz as text the way API.md gives times: ISO 8601 UTC with milliseconds. */
const isoTime = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

// Reads leave PostgreSQL as the response's JSON text: Node.js then neither parses rows into objects
// (jsonb columns included) nor serialises them again, which was most of the CPU and garbage of a
// list page. A command's own JSON is stored with it (the column api_json, which a trigger renders on
// every write: migration CommandApiJson); a lookup appends its history, rendered here. Keys are in
// API.md's order, without whitespace.

/** JSON text of a time (see isoTime); NULL stays NULL. */
const jsonTime = (column: string) => `'"' || ${isoTime(column)} || '"'`;

/** JSON text of any SQL value: to_json escapes strings as JSON does; NULL stays NULL. */
const jsonValue = (expression: string) => `to_json(${expression})::text`;

/** `{"key":value,...}` from expressions that give JSON text or NULL (written as null). */
function jsonObject(fields: [key: string, json: string][]): string {
  return fields
    .map(
      ([key, json], index) => `'${index === 0 ? '{' : ','}"${key}":' || COALESCE(${json}, 'null')`,
    )
    .concat(`'}'`)
    .join(' || ');
}

const HISTORY_ENTRY_JSON = jsonObject([
  ['id', `'"' || h.id || '"'`],
  ['status', jsonValue('h.status')],
  ['outcome', jsonValue('h.outcome')],
  ['source', jsonValue('h.source')],
  ['resultDetail', 'h.result_detail::text'],
  ['payload', 'h.payload::text'],
  ['receivedAt', jsonTime('h.received_at')],
]);

/**
 * A command with its whole history, oldest first, as the JSON text of GET /commands/{id}. The
 * entries come in the order of an ARRAY(subquery), which is its ORDER BY, read off the index on
 * (command_id, id). `string_agg(... ORDER BY h.id)` sorted them again in every lookup: pgbench
 * (16 clients, random commands of 1 million, alternating runs) gave 3 to 20 % more lookups/s
 * without that sort.
 */
export const FIND_WITH_HISTORY_SQL = `
SELECT left(c.api_json, -1) || ',"history":[' || array_to_string(ARRAY(
         SELECT ${HISTORY_ENTRY_JSON}
         FROM command_history h WHERE h.command_id = c.command_id
         ORDER BY h.id
       ), ',') || ']}' AS json
FROM commands c
WHERE c.command_id = $1`;

// Page sizes whose list statements are prepared under a name. The size is part of the statement's
// text, not a parameter: with `LIMIT $n` PostgreSQL cannot cost a generic plan and plans the
// statement again on every execution (measured: 0 generic plans in 10 runs), which was most of
// its time on a page. Other sizes are valid too, sent unnamed: parsed and planned each time, and
// the number of statements a connection keeps stays bounded.
const PREPARED_PAGE_SIZES = new Set([10, 20, 25, 50, 100, 200, 500]);

/**
 * The statement of a list page: conditions for the filters given, newest first, one row more than
 * the page to tell whether another follows. Each row is one command's stored JSON, which Node.js
 * joins into the page. It is named by which filters are present and the page size, to be prepared
 * once.
 *
 * Rows, not one aggregated text: aggregating the page in PostgreSQL (string_agg with FILTERs for
 * the page and its keyset) made each execution allocate and free enough for glibc to shrink the
 * backend's heap every time, and on a virtual machine each shrink's TLB flush is expensive. That
 * statement ran 2,600 to 2,900 times/s under pgbench against 22,000 for this one (bench/RESULTS.md).
 */
export function listStatement(filter: ListFilter): {
  name: string | undefined;
  text: string;
  values: unknown[];
} {
  const conditions: string[] = [];
  const values: unknown[] = [];
  const param = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  let shape = 'list';
  if (filter.deviceId !== undefined) {
    conditions.push(`c.device_id = ${param(filter.deviceId)}`);
    shape += '_device';
  }
  if (filter.statuses !== undefined) {
    conditions.push(`c.status = ANY(${param(filter.statuses)}::text[])`);
    shape += '_status';
  }
  if (filter.since !== undefined) {
    conditions.push(`c.created_at >= ${param(filter.since)}`);
    shape += '_since';
  }
  if (filter.until !== undefined) {
    conditions.push(`c.created_at < ${param(filter.until)}`);
    shape += '_until';
  }
  if (filter.after !== undefined) {
    // The keyset through a sub-SELECT: the index scan takes its values at run time all the same,
    // but the planner cannot see them, so the statement gets one generic plan. With the values in
    // plain sight it estimated each cursor's rows, found that cheaper than the generic estimate,
    // and planned every execution again (pg_prepared_statements: 0 generic plans in 200).
    conditions.push(
      `(c.created_at, c.command_id) < (SELECT ${param(filter.after.createdAt)}::timestamptz, ${param(filter.after.commandId)}::text)`,
    );
    shape += '_after';
  }
  const limit = filter.limit;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`A page size must be a positive integer, not ${limit}`);
  }
  if (!PREPARED_PAGE_SIZES.has(limit)) {
    return { name: undefined, text: listText(conditions, limit), values };
  }
  const name = `${shape}_${limit}`;
  let text = LIST_TEXTS.get(name);
  if (text === undefined) {
    text = listText(conditions, limit);
    LIST_TEXTS.set(name, text);
  }
  return { name, text, values };
}

// The text of each named list statement, made once.
const LIST_TEXTS = new Map<string, string>();

function listText(conditions: string[], limit: number): string {
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  return `
SELECT c.api_json FROM commands c ${where}
ORDER BY c.created_at DESC, c.command_id DESC
LIMIT ${limit + 1}`;
}

/**
 * The deadline sweep's first step, a statement of its own (see apply-statements.ts): up to `limit`
 * overdue open commands whose advisory lock is free, now held by this transaction, the most
 * overdue first. A command being applied by a report, or claimed by another instance's sweep, is
 * passed over: the candidates are the 2 x `limit` most overdue, tried in order until `limit` are
 * held, so that two instances sweeping at once each claim their own.
 */
function claimOverdueSql(limit: number): string {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`A sweep's size must be a positive integer, not ${limit}`);
  }
  return `
SELECT d.command_id
FROM (
  SELECT command_id FROM commands
  WHERE rank < 3 AND deadline <= now()
  ORDER BY deadline
  LIMIT ${2 * limit}
) d
WHERE pg_try_advisory_xact_lock(${commandLockKey('d.command_id')})
LIMIT ${limit}`;
}

/**
 * The deadline sweep of the claimed commands $1: lock those nobody else holds (SKIP LOCKED), move
 * them by the rank rule to TIMEOUT (from SENT or DELIVERED) or EXPIRED (from PENDING), and append
 * that to the history as source 'sweeper'. A command whose report committed first is re-checked
 * under the lock (rank < 3, still overdue) and left alone; a late SUCCESSFUL still applies
 * afterwards.
 */
const SWEEP_OVERDUE_SQL = `
WITH due AS (
  SELECT command_id, status
  FROM commands
  WHERE command_id = ANY($1::text[]) AND rank < 3 AND deadline <= now()
  FOR UPDATE SKIP LOCKED
),
swept AS (
  UPDATE commands c SET
    status        = CASE WHEN d.status = 'PENDING' THEN 'EXPIRED' ELSE 'TIMEOUT' END,
    rank          = 3,
    result_detail = NULL,
    completed_at  = COALESCE(c.completed_at, now()),
    version       = c.version + 1,
    updated_at    = now()
  FROM due d
  WHERE c.command_id = d.command_id AND c.rank < 3
  RETURNING c.command_id, c.device_id, c.status, d.status AS previous_status, c.version
),
recorded AS (
  INSERT INTO command_history (
    command_id, status, outcome, source, previous_status, version, result_detail, payload, received_at)
  SELECT command_id, status, 'applied', 'sweeper', previous_status, version, NULL, NULL, now()
  FROM swept
  ORDER BY command_id
  RETURNING id, command_id, status, source, previous_status, version, received_at
)
SELECT r.id::text AS id, r.command_id, s.device_id, r.status, r.previous_status, r.source,
       r.version, r.received_at
FROM recorded r JOIN swept s ON s.command_id = r.command_id
ORDER BY r.id`;

/**
 * Retention: deletes up to $2 finished commands (rank 3 or 4) unchanged for $1 days; their history
 * goes with them (ON DELETE CASCADE). Commands locked by a report being applied are left for later.
 */
const PURGE_FINISHED_SQL = `
WITH doomed AS (
  SELECT command_id
  FROM commands
  WHERE rank >= 3 AND updated_at < now() - make_interval(days => $1::integer)
  ORDER BY updated_at
  LIMIT $2
  FOR UPDATE SKIP LOCKED
),
deleted AS (
  DELETE FROM commands c USING doomed d WHERE c.command_id = d.command_id
  RETURNING c.command_id
)
SELECT count(*)::integer AS purged FROM deleted`;

/** Applied changes recorded after an event id, oldest first: the change feed's replay. */
const APPLIED_CHANGES_AFTER_SQL = `
SELECT h.id::text AS id, h.command_id, c.device_id, h.status, h.previous_status, h.source,
       h.version, h.received_at
FROM command_history h JOIN commands c ON c.command_id = h.command_id
WHERE h.id > $1::bigint AND h.outcome = 'applied'
  AND ($2::text IS NULL OR c.device_id = $2::text)
  AND ($3::text IS NULL OR h.command_id = $3::text)
ORDER BY h.id
LIMIT $4`;

interface ChangeRow {
  id: string;
  command_id: string;
  device_id: string;
  status: CommandStatus;
  previous_status: CommandStatus | null;
  source: ReportSource;
  version: number;
  received_at: Date;
}

interface ApplyRow {
  outcome: ReportOutcome | 'created';
  mismatch: MismatchedField | null;
  busy: boolean;
  previous_status: CommandStatus | null;
  status: CommandStatus | null;
  version: number | null;
  event_id: string | null;
  received_at: Date | null;
}

/**
 * A listed command's keyset, read from its stored JSON: createdAt there is created_at as API.md
 * gives times, to the millisecond, which is the column's precision (timestamptz(3)).
 */
function keysetOf(apiJson: string): { createdAt: string; commandId: string } {
  const { createdAt, commandId } = JSON.parse(apiJson) as { createdAt: string; commandId: string };
  return { createdAt, commandId };
}

// A command created or deleted by another session between a statement's snapshot and its write
// makes the statement run again; twice is plenty.
const MAX_APPLY_ATTEMPTS = 3;

// A callback is answered 503 after CALLBACK_DEADLINE_MS (4.5 s): a report is committed within this
// time of its arrival or not at all, never after its caller was told it was not stored.
const MAX_REPORT_AGE_MS = 3500;

/** How the write path is bounded; see BatcherLimits. */
export function writeLimits(poolSize: number, embedded: boolean): BatcherLimits {
  return {
    maxBatch: 128,
    minBatchWhileBusy: 8,
    // Leaves connections for reads, the sweeper and reports applied alone.
    maxBatchesInFlight: embedded ? 1 : Math.max(1, poolSize - 2),
    maxQueued: 1024,
    maxWaitMs: 1000,
    maxAgeMs: MAX_REPORT_AGE_MS,
  };
}

/**
 * How a write transaction begins, in one round trip with its first statement (the advisory locks):
 * - every lookup of the write path is by primary key, and its statements are prepared once per
 *   connection: a generic plan made while the table was small (a new database) would keep
 *   scanning it sequentially as it grows, until the next ANALYZE. Sequential scans are ruled out,
 *   and the plan is the generic one: ruling them out also inflates the estimates that PostgreSQL
 *   compares to choose between a generic and a custom plan, and it would plan every execution;
 * - no statement may run past the moment its caller stops waiting (statement_timeout), which also
 *   bounds the wait for a lock held elsewhere.
 */
function beginWrite(deadline: number, first: string): string {
  const timeout = Number.isFinite(deadline)
    ? `SET LOCAL statement_timeout = ${Math.max(1, Math.floor(deadline - performance.now()))};`
    : '';
  return `BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_generic_plan; ${timeout} ${first}`;
}

const APPLY_BATCH_SQL = applyReportsSql(true);
const APPLY_ALONE_SQL = applyReportsSql(false);

/** The arrays of applyReportsSql, one element per report. */
function applyParams(reports: readonly Report[], defaultDeadlineSeconds: number): unknown[] {
  const columns: unknown[][] = Array.from({ length: 13 }, () => []);
  for (const report of reports) {
    const registration = report.registration;
    const values = [
      report.commandId,
      report.deviceId,
      report.status,
      rankOf(report.status),
      toJsonb(report.resultDetail),
      toJsonb(report.payload),
      report.source,
      registration?.serviceId ?? null,
      registration?.method ?? null,
      toJsonb(registration?.paras),
      registration?.deadline ?? null,
      registration?.timeoutSeconds ?? null,
      registration !== undefined,
    ];
    values.forEach((value, index) => columns[index].push(value));
  }
  return [...columns, defaultDeadlineSeconds];
}

function toApplyResult(report: Report, row: ApplyRow): ApplyResult | typeof BUSY {
  if (row.busy) {
    return BUSY;
  }
  if (row.mismatch !== null) {
    return { kind: 'mismatch', field: row.mismatch };
  }
  if (row.event_id === null || row.status === null || row.version === null || !row.received_at) {
    return BUSY;
  }
  return {
    kind: 'recorded',
    commandId: report.commandId,
    deviceId: report.deviceId,
    status: row.status,
    previousStatus: row.previous_status,
    outcome: row.outcome === 'created' ? 'applied' : row.outcome,
    created: row.outcome === 'created',
    version: row.version,
    eventId: row.event_id,
    receivedAt: row.received_at,
    source: report.source,
  };
}

@Injectable()
export class CommandsRepository {
  private readonly batcher: ReportBatcher<Report, ApplyResult>;
  /** The embedded database is one session shared by every connection the pool opens. */
  private readonly embedded: boolean;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.embedded = config.databaseUrl === undefined;
    this.batcher = new ReportBatcher(
      {
        applyBatch: (reports, deadline) => this.applyBatch(reports, deadline),
        applyAlone: (report, deadline) => this.applyAlone(report, deadline),
        key: (report) => report.commandId,
      },
      writeLimits(this.pool().options.max ?? 10, this.embedded),
    );
  }

  /** Applies a report by the rank rule; settles once it is committed (with others, under GROUP_COMMIT). */
  async applyReport(report: Report): Promise<ApplyResult> {
    return this.config.groupCommit
      ? this.batcher.submit(report)
      : this.applyAlone(report, performance.now() + MAX_REPORT_AGE_MS);
  }

  // The hot statements go to pg directly, as named prepared statements: parsed and planned once
  // per connection instead of on every batch (TypeORM's query() cannot name a statement).
  private pool(): pg.Pool {
    return (this.dataSource.driver as PostgresDriver).master as pg.Pool;
  }

  // A statement prepared on an embedded connection that was cut would still exist under its name
  // in the one session, and preparing it again would fail: there, statements go unnamed.
  private statementName(name: string | undefined): string | undefined {
    return this.embedded ? undefined : name;
  }

  /**
   * Runs a transaction on a connection of its own: BEGIN with the statement `first(client)` gives
   * (see beginWrite), then `work` with that statement's rows; commits unless past `deadline`.
   */
  private async inTransaction<T>(
    deadline: number,
    first: (client: pg.PoolClient) => string,
    work: (client: pg.PoolClient, firstRows: unknown[][]) => Promise<T>,
  ): Promise<T> {
    const client = await this.pool().connect();
    try {
      const results = (await client.query({
        text: beginWrite(deadline, first(client)),
        rowMode: 'array',
      })) as unknown as pg.QueryArrayResult[];
      const result = await work(client, results[results.length - 1].rows);
      if (performance.now() > deadline) {
        throw new TooLateError();
      }
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (error) {
      const rolledBack = await client.query('ROLLBACK').then(
        () => true,
        () => false,
      );
      // A connection that cannot even roll back is discarded, not returned to the pool.
      client.release(rolledBack ? undefined : (error as Error));
      throw error;
    }
  }

  /**
   * Reports in one transaction; those of commands locked elsewhere come back BUSY. The statement
   * takes distinct commands, so it runs once per round: the first report of each command, then
   * the second, and so on. A command whose report comes back BUSY is left out of later rounds.
   */
  private applyBatch(
    reports: readonly Report[],
    deadline: number,
  ): Promise<(ApplyResult | typeof BUSY)[]> {
    const ids = [...new Set(reports.map((report) => report.commandId))];
    return this.inTransaction(
      deadline,
      (client) => lockCommandsSql(ids.map((id) => client.escapeLiteral(id))),
      async (client, locks) => {
        const blocked = new Set(ids.filter((_, index) => locks[index][0] !== true));
        const results = new Map<Report, ApplyResult | typeof BUSY>();
        const rounds: Report[][] = [];
        const seen = new Map<string, number>();
        for (const report of reports) {
          const round = seen.get(report.commandId) ?? 0;
          seen.set(report.commandId, round + 1);
          (rounds[round] ??= []).push(report);
        }
        for (const round of rounds) {
          const open = round.filter((report) => !blocked.has(report.commandId));
          if (open.length === 0) {
            continue;
          }
          const { rows } = await client.query<ApplyRow>({
            name: this.statementName('apply_batch'),
            text: APPLY_BATCH_SQL,
            values: applyParams(open, this.config.commandDeadlineSeconds),
          });
          open.forEach((report, index) => {
            const result = toApplyResult(report, rows[index]);
            results.set(report, result);
            if (result === BUSY) {
              blocked.add(report.commandId);
            }
          });
        }
        return reports.map((report) => results.get(report) ?? BUSY);
      },
    );
  }

  /** One report in a transaction of its own, waiting for its command's locks. */
  private applyAlone(report: Report, deadline: number): Promise<ApplyResult> {
    return this.inTransaction(
      deadline,
      (client) => waitForCommandSql(client.escapeLiteral(report.commandId)),
      async (client) => {
        const params = applyParams([report], this.config.commandDeadlineSeconds);
        for (let attempt = 1; ; attempt++) {
          const { rows } = await client.query<ApplyRow>({
            name: this.statementName('apply_alone'),
            text: APPLY_ALONE_SQL,
            values: params,
          });
          const result = toApplyResult(report, rows[0]);
          if (result !== BUSY) {
            return result;
          }
          if (attempt >= MAX_APPLY_ATTEMPTS) {
            throw new Error(
              `Report for command ${report.commandId} lost ${attempt} creation races`,
            );
          }
        }
      },
    );
  }

  /** GET /commands/{id}'s body: the command with its whole history, as JSON text. */
  async findWithHistoryJson(commandId: string): Promise<string | undefined> {
    const { rows } = await this.pool().query<{ json: string }>({
      name: this.statementName('find_with_history'),
      text: FIND_WITH_HISTORY_SQL,
      values: [commandId],
    });
    return rows[0]?.json;
  }

  /** Newest first by (created_at, command_id); one more row than asked tells whether a next page exists. */
  async list(filter: ListFilter): Promise<CommandListPage> {
    const statement = listStatement(filter);
    // Arrays, not objects, per row: the one column is all there is to read.
    const { rows } = await this.pool().query<[string]>({
      ...statement,
      name: this.statementName(statement.name),
      rowMode: 'array',
    });
    const more = rows.length > filter.limit;
    const items = more ? rows.slice(0, filter.limit) : rows;
    return {
      itemsJson: items.map(([json]) => json).join(','),
      next: more ? keysetOf(items[items.length - 1][0]) : null,
    };
  }

  /** Times out up to `limit` overdue open commands (see SWEEP_OVERDUE_SQL); the changes made. */
  async sweepOverdue(limit: number): Promise<CommandChange[]> {
    const rows = await this.inTransaction(
      Infinity,
      () => claimOverdueSql(limit),
      async (client, claimed) => {
        if (claimed.length === 0) {
          return [];
        }
        const swept = await client.query<ChangeRow>(SWEEP_OVERDUE_SQL, [claimed.map(([id]) => id)]);
        return swept.rows;
      },
    );
    return rows.map(toCommandChange);
  }

  /** Deletes up to `limit` commands finished more than `days` ago, with their history. */
  async purgeFinished(days: number, limit: number): Promise<number> {
    const [row] = await this.dataSource.query<{ purged: number }[]>(PURGE_FINISHED_SQL, [
      days,
      limit,
    ]);
    return row.purged;
  }

  /** Up to `limit` applied changes with an event id above `afterId`, oldest first. */
  async appliedChangesAfter(
    afterId: string,
    filter: ChangeFilter,
    limit: number,
  ): Promise<CommandChange[]> {
    const rows = await this.dataSource.query<ChangeRow[]>(APPLIED_CHANGES_AFTER_SQL, [
      afterId,
      filter.deviceId ?? null,
      filter.commandId ?? null,
      limit,
    ]);
    return rows.map(toCommandChange);
  }
}

function toCommandChange(row: ChangeRow): CommandChange {
  return {
    id: row.id,
    commandId: row.command_id,
    deviceId: row.device_id,
    status: row.status,
    previousStatus: row.previous_status,
    source: row.source,
    version: row.version,
    receivedAt: row.received_at.toISOString(),
  };
}

function toJsonb(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}
