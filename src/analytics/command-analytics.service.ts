import { Inject, Injectable } from '@nestjs/common';
import type pg from 'pg';
import { DATABASE_POOL } from '../database/database.module.js';
import { type CommandAnalyticsQuery } from './command-analytics.query.js';
import { type AnalyticsRow, analyticsStatement } from './command-analytics.sql.js';

export interface Percentiles {
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export interface CommandAnalytics {
  commands: number;
  final: Record<string, number>;
  successPercent: number | null;
  latencyMs: { toSent: Percentiles; toDelivered: Percentiles; toFinal: Percentiles };
}

export interface CommandAnalyticsJson extends CommandAnalytics {
  byCommand: (CommandAnalytics & { serviceId: string | null; method: string | null })[];
}

/** GET /analytics/commands: success and latency percentiles, overall and by command. */
@Injectable()
export class CommandAnalyticsService {
  constructor(@Inject(DATABASE_POOL) private readonly pool: pg.Pool) {}

  async analyse(query: CommandAnalyticsQuery): Promise<CommandAnalyticsJson> {
    const { rows } = await this.pool.query<AnalyticsRow>(analyticsStatement(query));
    const overall = rows.find((row) => row.overall);
    return {
      ...(overall === undefined ? empty() : toAnalytics(overall)),
      byCommand: rows
        .filter((row) => !row.overall)
        .map((row) => ({ serviceId: row.service_id, method: row.method, ...toAnalytics(row) })),
    };
  }
}

function toAnalytics(row: AnalyticsRow): CommandAnalytics {
  const finalCount = Object.values(row.final).reduce((sum, n) => sum + n, 0);
  return {
    commands: row.commands,
    final: row.final,
    successPercent: finalCount === 0 ? null : ((row.final.SUCCESSFUL ?? 0) * 100) / finalCount,
    latencyMs: {
      toSent: percentiles(row.to_sent),
      toDelivered: percentiles(row.to_delivered),
      toFinal: percentiles(row.to_final),
    },
  };
}

function percentiles(values: (number | null)[] | null): Percentiles {
  return { p50: values?.[0] ?? null, p90: values?.[1] ?? null, p99: values?.[2] ?? null };
}

function empty(): CommandAnalytics {
  return toAnalytics({
    overall: true,
    service_id: null,
    method: null,
    commands: 0,
    final: { TIMEOUT: 0, EXPIRED: 0, CANCELED: 0, SUCCESSFUL: 0, FAILED: 0 },
    to_sent: null,
    to_delivered: null,
    to_final: null,
  });
}
