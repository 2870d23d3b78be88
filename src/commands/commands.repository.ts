import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import {
  type CommandStatus,
  type ReportOutcome,
  type ReportSource,
  rankOf,
} from './command-status.js';

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

export interface HistoryEntryView {
  id: string;
  status: CommandStatus;
  outcome: ReportOutcome;
  source: ReportSource;
  resultDetail: unknown;
  payload: unknown;
  receivedAt: string;
}

export interface CommandView {
  commandId: string;
  deviceId: string;
  status: CommandStatus;
  resultDetail: unknown;
  serviceId: string | null;
  method: string | null;
  paras: Record<string, unknown> | null;
  createdAt: string;
  updatedAt: string;
  deadline: string;
  sentAt: string | null;
  deliveredAt: string | null;
  completedAt: string | null;
  version: number;
}

export interface CommandWithHistoryView extends CommandView {
  history: HistoryEntryView[];
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
 * Applies one report in one statement: lock the command if it exists (prev), decide the outcome
 * with the rank rule (verdict), create or conditionally update the command (upserted), and append
 * the report to the history (recorded). Nothing is written when the command belongs to another
 * device or registration names another serviceId/method (mismatch).
 *
 * If the command did not exist in this statement's snapshot but another transaction created it
 * meanwhile, the insert meets the conflict while `verdict` still says 'created': nothing is
 * written and the statement reports it, to be run again (see applyReport).
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
  RETURNING id, received_at
)
SELECT v.outcome, v.mismatch, v.previous_status,
       COALESCE(u.status, p.status) AS status,
       COALESCE(u.version, p.version) AS version,
       r.id::text AS event_id, r.received_at
FROM verdict v
  LEFT JOIN prev p ON true
  LEFT JOIN upserted u ON true
  LEFT JOIN recorded r ON true`;

const COMMAND_COLUMNS = `command_id, device_id, status, result_detail, service_id, method, paras,
  created_at, updated_at, deadline, sent_at, delivered_at, completed_at, version`;

const FIND_WITH_HISTORY_SQL = `
SELECT ${COMMAND_COLUMNS},
  COALESCE((
    SELECT json_agg(json_build_object(
      'id', h.id::text, 'status', h.status, 'outcome', h.outcome, 'source', h.source,
      'resultDetail', h.result_detail, 'payload', h.payload,
      'receivedAt', to_char(h.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      ORDER BY h.id)
    FROM command_history h WHERE h.command_id = c.command_id
  ), '[]'::json) AS history
FROM commands c
WHERE c.command_id = $1`;

interface ApplyRow {
  outcome: ReportOutcome | 'created';
  mismatch: MismatchedField | null;
  previous_status: CommandStatus | null;
  status: CommandStatus | null;
  version: number | null;
  event_id: string | null;
  received_at: Date | null;
}

interface CommandRow {
  command_id: string;
  device_id: string;
  status: CommandStatus;
  result_detail: unknown;
  service_id: string | null;
  method: string | null;
  paras: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
  deadline: Date;
  sent_at: Date | null;
  delivered_at: Date | null;
  completed_at: Date | null;
  version: number;
  history?: HistoryEntryView[];
}

// A concurrent first report of the same command makes a statement run again; twice is plenty.
const MAX_APPLY_ATTEMPTS = 3;

@Injectable()
export class CommandsRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async applyReport(report: Report): Promise<ApplyResult> {
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
      const [row] = await this.dataSource.query<ApplyRow[]>(APPLY_REPORT_SQL, params);
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

  async findWithHistory(commandId: string): Promise<CommandWithHistoryView | undefined> {
    const [row] = await this.dataSource.query<CommandRow[]>(FIND_WITH_HISTORY_SQL, [commandId]);
    if (row === undefined) {
      return undefined;
    }
    return { ...toCommandView(row), history: row.history ?? [] };
  }

  /** Newest first by (created_at, command_id); one more row than asked tells whether a next page exists. */
  async list(filter: ListFilter): Promise<{ items: CommandView[]; hasMore: boolean }> {
    const conditions: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filter.deviceId !== undefined) {
      conditions.push(`device_id = ${param(filter.deviceId)}`);
    }
    if (filter.statuses !== undefined) {
      conditions.push(`status = ANY(${param(filter.statuses)}::text[])`);
    }
    if (filter.since !== undefined) {
      conditions.push(`created_at >= ${param(filter.since)}`);
    }
    if (filter.until !== undefined) {
      conditions.push(`created_at < ${param(filter.until)}`);
    }
    if (filter.after !== undefined) {
      conditions.push(
        `(created_at, command_id) < (${param(filter.after.createdAt)}::timestamptz, ${param(filter.after.commandId)}::text)`,
      );
    }
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    const sql = `SELECT ${COMMAND_COLUMNS} FROM commands ${where}
      ORDER BY created_at DESC, command_id DESC LIMIT ${param(filter.limit + 1)}`;
    const rows = await this.dataSource.query<CommandRow[]>(sql, params);
    return {
      items: rows.slice(0, filter.limit).map(toCommandView),
      hasMore: rows.length > filter.limit,
    };
  }
}

function toJsonb(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

function iso(value: Date): string;
function iso(value: Date | null): string | null;
function iso(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}

function toCommandView(row: CommandRow): CommandView {
  return {
    commandId: row.command_id,
    deviceId: row.device_id,
    status: row.status,
    resultDetail: row.result_detail,
    serviceId: row.service_id,
    method: row.method,
    paras: row.paras,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    deadline: iso(row.deadline),
    sentAt: iso(row.sent_at),
    deliveredAt: iso(row.delivered_at),
    completedAt: iso(row.completed_at),
    version: row.version,
  };
}
