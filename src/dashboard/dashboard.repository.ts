import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import {
  COMMAND_STATUSES,
  REPORT_OUTCOMES,
  type CommandStatus,
  type ReportOutcome,
} from '../commands/command-status.js';

export type StatusCounts = Record<CommandStatus, number>;

export interface MinuteCounts {
  /** Start of the minute, in ms. */
  minute: number;
  outcome: ReportOutcome;
  reports: number;
}

// One pass over commands counts every status, in total and among those created since $1
// (an index-only scan of commands_status_created_idx when the visibility map allows).
const COUNT_BY_STATUS = `
SELECT status,
       count(*)::int AS total,
       count(*) FILTER (WHERE created_at >= $1)::int AS recent
FROM commands
GROUP BY status`;

// Commands still waiting for an answer (rank below 3), oldest first. PostgreSQL picks between the
// partial index of open commands (few open) and commands_created_idx in order (many open).
const OLDEST_OPEN = `
SELECT api_json
FROM commands
WHERE rank < 3
ORDER BY created_at, command_id
LIMIT $1`;

// Reports per minute and outcome since $1, through the index on received_at: exact whatever order
// entries were stored in (a backfill stores old reports with the newest ids).
const REPORTS_PER_MINUTE = `
SELECT (floor(extract(epoch FROM received_at) / 60) * 60000)::bigint::text AS minute,
       outcome,
       count(*)::int AS reports
FROM command_history
WHERE received_at >= $1
GROUP BY 1, 2`;

// The dispatch that created a command: through the command's device, so that the device's index
// of dispatches narrows the search (dispatches have no index on command_id).
const DISPATCH_OF_COMMAND = `
SELECT d.dispatch_id
FROM commands c
JOIN dispatches d ON d.device_id = c.device_id AND d.command_id = c.command_id
WHERE c.command_id = $1
ORDER BY d.created_at DESC
LIMIT 1`;

function zeroCounts(): StatusCounts {
  return Object.fromEntries(COMMAND_STATUSES.map((status) => [status, 0])) as StatusCounts;
}

function isOutcome(value: string): value is ReportOutcome {
  return (REPORT_OUTCOMES as readonly string[]).includes(value);
}

/** The overview's counting statements; read-only. */
@Injectable()
export class DashboardRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Commands by status: all of them, and those created at or after `since`. */
  async countByStatus(since: Date): Promise<{ total: StatusCounts; recent: StatusCounts }> {
    const rows: { status: CommandStatus; total: number; recent: number }[] =
      await this.dataSource.query(COUNT_BY_STATUS, [since]);
    const total = zeroCounts();
    const recent = zeroCounts();
    for (const row of rows) {
      total[row.status] = row.total;
      recent[row.status] = row.recent;
    }
    return { total, recent };
  }

  /** The oldest commands of rank below 3, as GET /commands lists them (JSON objects). */
  async oldestOpen(limit: number): Promise<unknown[]> {
    const rows: { api_json: string }[] = await this.dataSource.query(OLDEST_OPEN, [limit]);
    return rows.map((row) => JSON.parse(row.api_json) as unknown);
  }

  /** Stored reports per minute and outcome since `since`; minutes without any are absent. */
  async reportsPerMinute(since: Date): Promise<MinuteCounts[]> {
    const rows: { minute: string; outcome: string; reports: number }[] =
      await this.dataSource.query(REPORTS_PER_MINUTE, [since]);
    return rows.flatMap((row) =>
      isOutcome(row.outcome)
        ? [{ minute: Number(row.minute), outcome: row.outcome, reports: row.reports }]
        : [],
    );
  }

  /** The id of the dispatch (POST /dispatches) whose command this is, if any. */
  async dispatchOf(commandId: string): Promise<string | null> {
    const rows: { dispatch_id: string }[] = await this.dataSource.query(DISPATCH_OF_COMMAND, [
      commandId,
    ]);
    return rows[0]?.dispatch_id ?? null;
  }
}
