import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Histogram } from 'prom-client';
import type pg from 'pg';
import { DATABASE_POOL } from '../database/database.module.js';
import { type CommandStatus, rankOf } from '../commands/command-status.js';
import { CommandMetrics } from './command-metrics.js';

export type LatencyPhase = 'toSent' | 'toDelivered' | 'toFinal';

// Applied changes waiting to be timed; past this many the rest of a burst goes untimed rather
// than held in memory.
const MAX_PENDING = 10_000;
const FLUSH_MS = 1000;

// The stored times, so that the histograms measure exactly what GET /analytics/commands does.
const TIMES_SQL = `
SELECT command_id,
  EXTRACT(EPOCH FROM sent_at - created_at)::float8 AS to_sent,
  EXTRACT(EPOCH FROM delivered_at - created_at)::float8 AS to_delivered,
  EXTRACT(EPOCH FROM completed_at - created_at)::float8 AS to_final
FROM commands WHERE command_id = ANY($1::text[])`;

interface LatencyRow {
  command_id: string;
  to_sent: number | null;
  to_delivered: number | null;
  to_final: number | null;
}

/**
 * command_latency_seconds{phase}: time from a command's createdAt to its sentAt, deliveredAt and
 * completedAt, observed by the instance that first applied SENT, DELIVERED or a rank 3 or 4
 * status. The write path only notes the command id; the times are read once a second for all
 * noted commands in one statement, off the path that answers the platform.
 */
@Injectable()
export class CommandLatency implements OnApplicationShutdown {
  private readonly histogram: Histogram<'phase'>;
  private pending = new Map<string, Set<LatencyPhase>>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    metrics: CommandMetrics,
    @Inject(DATABASE_POOL) private readonly pool: pg.Pool,
  ) {
    this.histogram = new Histogram({
      name: 'command_latency_seconds',
      help: 'Time from a command being created to SENT, DELIVERED and a final (rank 3 or 4) status first applied, by phase (toSent, toDelivered, toFinal)',
      labelNames: ['phase'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400, 172800],
      registers: [metrics.registry],
    });
  }

  /** An applied change: notes which phase, if any, it ends. */
  applied(commandId: string, status: CommandStatus, previous: CommandStatus | null): void {
    const phase = phaseOf(status, previous);
    if (phase === undefined || this.pending.size >= MAX_PENDING) {
      return;
    }
    const phases = this.pending.get(commandId) ?? new Set<LatencyPhase>();
    phases.add(phase);
    this.pending.set(commandId, phases);
    this.timer ??= setTimeout(() => {
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined;
      });
    }, FLUSH_MS).unref();
  }

  /** Reads the noted commands' times and observes them; a failed read drops them. */
  async flush(): Promise<void> {
    this.timer = undefined;
    const noted = this.pending;
    this.pending = new Map();
    if (noted.size === 0) {
      return;
    }
    let rows: LatencyRow[];
    try {
      rows = (await this.pool.query<LatencyRow>(TIMES_SQL, [[...noted.keys()]])).rows;
    } catch {
      return;
    }
    for (const row of rows) {
      const seconds = { toSent: row.to_sent, toDelivered: row.to_delivered, toFinal: row.to_final };
      for (const phase of noted.get(row.command_id) ?? []) {
        const value = seconds[phase];
        if (value !== null) {
          this.histogram.observe({ phase }, Math.max(0, value));
        }
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
  }
}

/** The phase an applied change ends: SENT and DELIVERED apply once; a final status the first time. */
export function phaseOf(
  status: CommandStatus,
  previous: CommandStatus | null,
): LatencyPhase | undefined {
  if (status === 'SENT') {
    return 'toSent';
  }
  if (status === 'DELIVERED') {
    return 'toDelivered';
  }
  return rankOf(status) >= 3 && (previous === null || rankOf(previous) < 3) ? 'toFinal' : undefined;
}
