import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import {
  type CommandStatus,
  type ReportOutcome,
  type ReportSource,
  rankOf,
} from './command-status.js';
import { APPLY_REPORTS_SQL, TOO_LATE_SQLSTATE } from './sql/apply.js';
import { PURGE_FINISHED_SQL, SWEEP_OVERDUE_SQL, claimOverdueSql } from './sql/sweep.js';
import { BUSY, TooLateError } from './report-batcher.js';
import { isDatabaseUnavailable, sqlState } from '../database/database-errors.js';
import {
  DATABASE_POOL,
  DATABASE_PROFILE,
  type DatabaseProfile,
} from '../database/database.module.js';

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

const LOCK_NOT_AVAILABLE = '55P03';

/**
 * How a write transaction of the sweeper begins, in one round trip with its first statement:
 * sequential scans are ruled out and plans are generic, as in apply_reports (see its migration),
 * and no statement may run past the moment its caller stops waiting (statement_timeout), which
 * also bounds the wait for a lock held elsewhere.
 */
function beginWrite(deadline: number, first: string): string {
  const timeout = Number.isFinite(deadline)
    ? `SET LOCAL statement_timeout = ${Math.max(1, Math.floor(deadline - performance.now()))};`
    : '';
  return `BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_generic_plan; ${timeout} ${first}`;
}

/** The arguments of apply_reports: the reports as status_report records, then the settings. */
function applyParams(
  reports: readonly Report[],
  defaultDeadlineSeconds: number,
  wait: boolean,
  deadline: number,
): unknown[] {
  return [
    reportsJson(reports),
    defaultDeadlineSeconds,
    wait,
    Math.floor(deadline - performance.now()),
  ];
}

/**
 * The reports as apply_reports reads them (the composite type status_report): one JSON array,
 * made in one JSON.stringify, the request bodies and details inside it as they are.
 */
export function reportsJson(reports: readonly Report[]): string {
  return JSON.stringify(
    reports.map((report) => {
      const registration = report.registration;
      return {
        command_id: report.commandId,
        device_id: report.deviceId,
        status: report.status,
        rank: rankOf(report.status),
        result_detail: report.resultDetail,
        payload: report.payload,
        source: report.source,
        service_id: registration?.serviceId,
        method: registration?.method,
        paras: registration?.paras,
        deadline_at: registration?.deadline,
        timeout_seconds: registration?.timeoutSeconds,
        details: registration !== undefined,
      };
    }),
  );
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
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    // The hot statements go to pg directly, as named prepared statements: parsed and planned once
    // per connection instead of on every batch (TypeORM's query() cannot name a statement).
    @Inject(DATABASE_POOL) private readonly pool: pg.Pool,
    @Inject(DATABASE_PROFILE) private readonly profile: DatabaseProfile,
  ) {}

  // Unnamed where a prepared statement could outlive its connection (DatabaseProfile).
  private statementName(name: string | undefined): string | undefined {
    return this.profile.preparedStatements ? name : undefined;
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
    const client = await this.pool.connect();
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
   * Applies reports of distinct commands, committed in one statement unless past `deadline`
   * (TooLateError, nothing written). A connection that failed is discarded, not reused.
   */
  private async applyReports(
    reports: readonly Report[],
    wait: boolean,
    deadline: number,
  ): Promise<ApplyRow[]> {
    if (performance.now() >= deadline) {
      throw new TooLateError();
    }
    const client = await this.pool.connect();
    try {
      const { rows } = await client.query<ApplyRow>({
        name: this.statementName(wait ? 'apply_alone' : 'apply_batch'),
        text: APPLY_REPORTS_SQL,
        values: applyParams(reports, this.config.commandDeadlineSeconds, wait, deadline),
      });
      client.release();
      return rows;
    } catch (error) {
      const state = sqlState(error);
      // A statement the database refused leaves the connection usable; any other failure does not.
      client.release(
        state !== undefined && !isDatabaseUnavailable(error) ? undefined : (error as Error),
      );
      // Past its budget, or a lock wait that reached it (lock_timeout): nothing was written.
      if (state === TOO_LATE_SQLSTATE || state === LOCK_NOT_AVAILABLE) {
        throw new TooLateError();
      }
      throw error;
    }
  }

  /**
   * Applies reports, each committed unless past `deadline`; those of commands locked elsewhere
   * come back BUSY. Reports of distinct commands go in one statement, so a batch runs in rounds:
   * the first report of each command, then the second, and so on. A command whose report comes
   * back BUSY is left out of later rounds.
   */
  async applyBatch(
    reports: readonly Report[],
    deadline: number,
  ): Promise<(ApplyResult | typeof BUSY)[]> {
    const results = new Map<Report, ApplyResult | typeof BUSY>();
    const blocked = new Set<string>();
    const rounds: Report[][] = [];
    const seen = new Map<string, number>();
    for (const report of reports) {
      const round = seen.get(report.commandId) ?? 0;
      seen.set(report.commandId, round + 1);
      (rounds[round] ??= []).push(report);
    }
    for (const [index, round] of rounds.entries()) {
      const open = round.filter((report) => !blocked.has(report.commandId));
      if (open.length === 0) {
        continue;
      }
      let rows: ApplyRow[];
      try {
        rows = await this.applyReports(open, false, deadline);
      } catch (error) {
        // Earlier rounds are committed: the rest is applied alone, meeting only its own errors.
        if (index === 0) {
          throw error;
        }
        break;
      }
      open.forEach((report, position) => {
        const result = toApplyResult(report, rows[position]);
        results.set(report, result);
        if (result === BUSY) {
          blocked.add(report.commandId);
        }
      });
    }
    return reports.map((report) => results.get(report) ?? BUSY);
  }

  /** One report on its own, waiting for its command's locks (until `deadline`). */
  async applyAlone(report: Report, deadline: number): Promise<ApplyResult> {
    for (let attempt = 1; ; attempt++) {
      const [row] = await this.applyReports([report], true, deadline);
      const result = toApplyResult(report, row);
      if (result !== BUSY) {
        return result;
      }
      if (attempt >= MAX_APPLY_ATTEMPTS) {
        throw new Error(`Report for command ${report.commandId} lost ${attempt} creation races`);
      }
    }
  }

  /** Times out up to `limit` overdue open commands (see SWEEP_OVERDUE_SQL); the statuses applied. */
  async sweepOverdue(limit: number): Promise<CommandStatus[]> {
    const rows = await this.inTransaction(
      Infinity,
      () => claimOverdueSql(limit),
      async (client, claimed) => {
        if (claimed.length === 0) {
          return [];
        }
        const swept = await client.query<{ status: CommandStatus }>(SWEEP_OVERDUE_SQL, [
          claimed.map(([id]) => id),
        ]);
        return swept.rows;
      },
    );
    return rows.map((row) => row.status);
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
