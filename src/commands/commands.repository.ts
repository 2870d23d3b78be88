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

/** A status change the sweeper applied, as SWEEP_OVERDUE_SQL returns it. */
export interface AppliedChange {
  /** The history entry's id. */
  id: string;
  commandId: string;
  deviceId: string;
  status: CommandStatus;
  previousStatus: CommandStatus | null;
  source: ReportSource;
  version: number;
  receivedAt: string;
}

/** A timestamptz as text the way API.md gives times: ISO 8601 UTC with milliseconds. */
export const isoTime = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

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

  /** Times out up to `limit` overdue open commands (see SWEEP_OVERDUE_SQL); the changes made. */
  async sweepOverdue(limit: number): Promise<AppliedChange[]> {
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
    return rows.map(toAppliedChange);
  }

  /** Deletes up to `limit` commands finished more than `days` ago, with their history. */
  async purgeFinished(days: number, limit: number): Promise<number> {
    const [row] = await this.dataSource.query<{ purged: number }[]>(PURGE_FINISHED_SQL, [
      days,
      limit,
    ]);
    return row.purged;
  }
}

function toAppliedChange(row: ChangeRow): AppliedChange {
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
