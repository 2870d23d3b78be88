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
import { ReportBatcher } from './report-batcher.js';

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

/** The NOTIFY channel of applied changes; every instance's change feed LISTENs on it. */
export const CHANGES_CHANNEL = 'command_changes';

/** A timestamptz as text the way API.md gives times: ISO 8601 UTC with milliseconds. */
export const isoTime = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * An applied change as a NOTIFY payload (CommandChange's JSON): `h` is a command_history row.
 * Ids are at most 128 characters, so it stays far below NOTIFY's 8000-byte payload limit.
 */
function changeJson(h: string, deviceId: string): string {
  return `json_build_object(
    'id', ${h}.id::text, 'commandId', ${h}.command_id, 'deviceId', ${deviceId},
    'status', ${h}.status, 'previousStatus', ${h}.previous_status, 'source', ${h}.source,
    'version', ${h}.version,
    'receivedAt', ${isoTime(`${h}.received_at`)})::text`;
}

/**
 * Applies one report in one statement: lock the command if it exists (prev), decide the outcome
 * with the rank rule (verdict), create or conditionally update the command (upserted), and append
 * the report to the history (recorded). Nothing is written when the command belongs to another
 * device or registration names another serviceId/method (mismatch).
 *
 * If the command did not exist in this statement's snapshot but another transaction created it
 * meanwhile, the insert meets the conflict while `verdict` still says 'created': nothing is
 * written and the statement reports it, to be run again (see applyReport).
 *
 * An applied report is announced with pg_notify (notified), which PostgreSQL delivers to the
 * change feeds of every instance when the transaction commits, and never if it rolls back.
 */
export const APPLY_REPORT_SQL = `
WITH input AS (
  SELECT $1::text AS command_id, $2::text AS device_id, $3::text AS status, $4::smallint AS rank,
         $5::jsonb AS result_detail, $6::jsonb AS payload, $7::text AS source,
         $8::text AS service_id, $9::text AS method, $10::jsonb AS paras,
         COALESCE($11::timestamptz, now() + make_interval(secs => COALESCE($12::integer, $13::integer)))
           AS deadline,
         ($11::timestamptz IS NOT NULL OR $12::integer IS NOT NULL) AS explicit_deadline
),
prev AS (
  SELECT c.command_id, c.device_id, c.status, c.rank, c.service_id, c.method, c.version
  FROM commands c JOIN input i ON c.command_id = i.command_id
  FOR UPDATE OF c
),
verdict AS (
  SELECT
    p.status AS previous_status,
    CASE
      WHEN p.command_id IS NULL THEN NULL
      WHEN p.device_id <> i.device_id THEN 'deviceId'
      WHEN p.service_id <> i.service_id THEN 'serviceId'
      WHEN p.method <> i.method THEN 'method'
    END AS mismatch,
    CASE
      WHEN p.command_id IS NULL THEN 'created'
      WHEN i.rank > p.rank THEN 'applied'
      WHEN i.status = p.status THEN 'duplicate'
      WHEN i.rank < p.rank THEN 'stale'
      ELSE 'conflict'
    END AS outcome
  FROM input i LEFT JOIN prev p ON true
),
upserted AS (
  INSERT INTO commands AS c (
    command_id, device_id, status, rank, result_detail, service_id, method, paras,
    created_at, updated_at, deadline, sent_at, delivered_at, completed_at, version)
  SELECT i.command_id, i.device_id, i.status, i.rank, i.result_detail, i.service_id, i.method,
         i.paras, now(), now(), i.deadline,
         CASE WHEN i.status = 'SENT' THEN now() END,
         CASE WHEN i.status = 'DELIVERED' THEN now() END,
         CASE WHEN i.rank >= 3 THEN now() END,
         1
  FROM input i CROSS JOIN verdict v
  WHERE v.mismatch IS NULL
  ON CONFLICT (command_id) DO UPDATE SET
    status        = CASE WHEN excluded.rank > c.rank THEN excluded.status ELSE c.status END,
    rank          = GREATEST(excluded.rank, c.rank),
    result_detail = CASE WHEN excluded.rank > c.rank THEN excluded.result_detail ELSE c.result_detail END,
    sent_at       = CASE WHEN excluded.rank > c.rank THEN COALESCE(c.sent_at, excluded.sent_at) ELSE c.sent_at END,
    delivered_at  = CASE WHEN excluded.rank > c.rank THEN COALESCE(c.delivered_at, excluded.delivered_at) ELSE c.delivered_at END,
    completed_at  = CASE WHEN excluded.rank > c.rank THEN COALESCE(c.completed_at, excluded.completed_at) ELSE c.completed_at END,
    version       = c.version + CASE WHEN excluded.rank > c.rank THEN 1 ELSE 0 END,
    updated_at    = now(),
    service_id    = COALESCE(c.service_id, excluded.service_id),
    method        = COALESCE(c.method, excluded.method),
    paras         = COALESCE(c.paras, excluded.paras),
    deadline      = CASE WHEN (SELECT explicit_deadline FROM input) THEN excluded.deadline ELSE c.deadline END
  WHERE (SELECT outcome FROM verdict) <> 'created'
    AND (excluded.rank > c.rank OR (SELECT source FROM input) = 'registration')
  RETURNING c.status, c.version
),
recorded AS (
  INSERT INTO command_history (
    command_id, status, outcome, source, previous_status, version, result_detail, payload, received_at)
  SELECT i.command_id, i.status,
         CASE WHEN v.outcome = 'created' THEN 'applied' ELSE v.outcome END,
         i.source, v.previous_status, COALESCE(u.version, p.version), i.result_detail, i.payload, now()
  FROM input i CROSS JOIN verdict v LEFT JOIN upserted u ON true LEFT JOIN prev p ON true
  WHERE v.mismatch IS NULL AND (v.outcome <> 'created' OR u.version IS NOT NULL)
  RETURNING id, command_id, status, outcome, source, previous_status, version, received_at
),
notified AS (
  SELECT count(pg_notify('${CHANGES_CHANNEL}', ${changeJson('r', 'i.device_id')})) AS notifications
  FROM recorded r JOIN input i ON i.command_id = r.command_id
  WHERE r.outcome = 'applied'
)
SELECT v.outcome, v.mismatch, v.previous_status,
       COALESCE(u.status, p.status) AS status,
       COALESCE(u.version, p.version) AS version,
       r.id::text AS event_id, r.received_at
FROM verdict v
  LEFT JOIN prev p ON true
  LEFT JOIN upserted u ON true
  LEFT JOIN recorded r ON true
  CROSS JOIN notified`;

/**
 * The deadline sweep, one statement: lock up to $1 overdue open commands that nobody else holds
 * (due; SKIP LOCKED lets any number of instances sweep at once, each command going to one of them,
 * and never waits for a callback being applied), move them by the rank rule to TIMEOUT (from SENT
 * or DELIVERED) or EXPIRED (from PENDING), append that to the history as source 'sweeper', and
 * announce each change like APPLY_REPORT_SQL does. A command whose callback committed first is
 * re-checked under the lock (rank < 3) and left alone; a late SUCCESSFUL still applies afterwards.
 */
const SWEEP_OVERDUE_SQL = `
WITH due AS (
  SELECT command_id, status
  FROM commands
  WHERE rank < 3 AND deadline <= now()
  ORDER BY deadline
  LIMIT $1
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
  RETURNING id, command_id, status, source, previous_status, version, received_at
),
notified AS (
  SELECT count(pg_notify('${CHANGES_CHANNEL}', ${changeJson('r', 's.device_id')})) AS notifications
  FROM recorded r JOIN swept s ON s.command_id = r.command_id
)
SELECT r.id::text AS id, r.command_id, s.device_id, r.status, r.previous_status, r.source,
       r.version, r.received_at
FROM recorded r JOIN swept s ON s.command_id = r.command_id CROSS JOIN notified
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
  previous_status: CommandStatus | null;
  status: CommandStatus | null;
  version: number | null;
  event_id: string | null;
  received_at: Date | null;
}

// A concurrent first report of the same command makes a statement run again; twice is plenty.
const MAX_APPLY_ATTEMPTS = 3;

// Group commit: at most this many reports share one transaction.
const MAX_REPORTS_PER_COMMIT = 64;

// A callback is answered 503 after 4.5 s (callbacks.controller.ts); a report queued for a batch is
// committed only if that leaves room: not after its caller was told it was not stored.
const MAX_BATCHED_REPORT_AGE_MS = 3500;

@Injectable()
export class CommandsRepository {
  private readonly batcher: ReportBatcher<Report, ApplyResult>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.batcher = new ReportBatcher(
      () => this.pool(),
      {
        applyOn: (client, report) => this.applyOn(client, report),
        applyAlone: (report) => this.applyOn(this.pool(), report),
        lockKey: (report) => report.commandId,
      },
      MAX_REPORTS_PER_COMMIT,
      MAX_BATCHED_REPORT_AGE_MS,
    );
  }

  /** Applies a report by the rank rule; settles once it is committed (with others, under GROUP_COMMIT). */
  async applyReport(report: Report): Promise<ApplyResult> {
    return this.config.groupCommit
      ? this.batcher.submit(report)
      : this.applyOn(this.pool(), report);
  }

  // The hot statement goes to pg directly, as a named prepared statement: parsed and planned once
  // per connection instead of on every report (TypeORM's query() cannot name a statement).
  private pool(): pg.Pool {
    return (this.dataSource.driver as PostgresDriver).master as pg.Pool;
  }

  // The embedded database (a pool of one) is a single session shared by every connection the pool
  // opens: a statement prepared on a connection that was cut would still exist under its name.
  private statementName(name: string | undefined): string | undefined {
    return this.pool().options.max === 1 ? undefined : name;
  }

  private async applyOn(client: pg.Pool | pg.PoolClient, report: Report): Promise<ApplyResult> {
    const registration = report.registration;
    const params = [
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
      this.config.commandDeadlineSeconds,
    ];
    for (let attempt = 1; ; attempt++) {
      const { rows } = await client.query<ApplyRow>({
        name: this.statementName('apply_report'),
        text: APPLY_REPORT_SQL,
        values: params,
      });
      const row = rows[0];
      if (row.mismatch !== null) {
        return { kind: 'mismatch', field: row.mismatch };
      }
      if (row.event_id !== null && row.status !== null && row.version !== null && row.received_at) {
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
      if (attempt >= MAX_APPLY_ATTEMPTS) {
        throw new Error(`Report for command ${report.commandId} lost ${attempt} creation races`);
      }
    }
  }

  /** Times out up to `limit` overdue open commands (see SWEEP_OVERDUE_SQL); the changes made. */
  async sweepOverdue(limit: number): Promise<CommandChange[]> {
    const rows = await this.dataSource.query<ChangeRow[]>(SWEEP_OVERDUE_SQL, [limit]);
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
