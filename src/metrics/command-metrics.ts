import { Inject, Injectable } from '@nestjs/common';
import type pg from 'pg';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DATABASE_POOL } from '../database/database.module.js';
import {
  COMMAND_STATUSES,
  REPORT_OUTCOMES,
  type CommandStatus,
  type ReportOutcome,
  type ReportSource,
} from '../commands/command-status.js';

/**
 * Every metric of one application instance, in its own registry: tests run many instances in one
 * process, and the global registry would refuse the second set of names.
 */
@Injectable()
export class CommandMetrics {
  readonly registry = new Registry();

  private readonly callbacks = new Counter({
    name: 'command_callbacks_total',
    help: 'Status pushes from the platform (legacy callback, IoTDA over HTTP or AMQP), by reported status and outcome (ignored: not a command status)',
    labelNames: ['status', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly callbackFailures = new Counter({
    name: 'command_callback_failures_total',
    help: 'Status pushes answered 503 (or released) unstored, by reason: database (unavailable or slow), overloaded (no room in the write path) or unexpected (a fault of this service)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  private readonly reports = new Counter({
    name: 'command_reports_total',
    help: 'Reports recorded from every source (callback, registration), by status and outcome',
    labelNames: ['source', 'status', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly sweeps = new Counter({
    name: 'command_sweeps_total',
    help: 'Sweeps of overdue commands that completed',
    registers: [this.registry],
  });

  private readonly sweepFailures = new Counter({
    name: 'command_sweep_failures_total',
    help: 'Sweeps that failed (logged; the next one runs at the next interval, later while the database is unreachable)',
    registers: [this.registry],
  });

  private readonly swept = new Counter({
    name: 'command_swept_total',
    help: 'Overdue commands the sweeper moved, by the status it applied (TIMEOUT or EXPIRED)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  private readonly retentionDeleted = new Counter({
    name: 'command_retention_deleted_total',
    help: 'Finished commands deleted with their history after RETENTION_DAYS',
    registers: [this.registry],
  });

  private readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer HTTP requests, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor(@Inject(DATABASE_POOL) pool: pg.Pool) {
    collectDefaultMetrics({ register: this.registry });
    // Read from the pool when scraped, so the figures are those of that moment.
    new Gauge({
      name: 'db_pool_connections',
      help: 'Connections to PostgreSQL held by the pool, by state (in_use or idle)',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        this.set({ state: 'in_use' }, pool.totalCount - pool.idleCount);
        this.set({ state: 'idle' }, pool.idleCount);
      },
    });
    new Gauge({
      name: 'db_pool_waiting_clients',
      help: 'Queries waiting for a free connection in the pool',
      registers: [this.registry],
      collect() {
        this.set(pool.waitingCount);
      },
    });
    new Gauge({
      name: 'db_pool_max_connections',
      help: 'Most connections the pool may open (DB_POOL_SIZE; 1 on the embedded database)',
      registers: [this.registry],
      collect() {
        this.set(pool.options.max ?? 0);
      },
    });
    // Every status/outcome pair from zero, so that rates work from the first scrape.
    for (const status of COMMAND_STATUSES) {
      for (const outcome of REPORT_OUTCOMES) {
        this.callbacks.inc({ status, outcome }, 0);
      }
    }
    this.swept.inc({ status: 'TIMEOUT' }, 0);
    this.swept.inc({ status: 'EXPIRED' }, 0);
    this.callbacks.inc({ outcome: 'ignored' }, 0);
    this.callbackFailures.inc({ reason: 'database' }, 0);
    this.callbackFailures.inc({ reason: 'unexpected' }, 0);
    this.callbackFailures.inc({ reason: 'overloaded' }, 0);
  }

  /** A forwarded message of another resource or event was answered and not stored. */
  callbackIgnored(): void {
    this.callbacks.inc({ outcome: 'ignored' });
  }

  /** A status push could not be stored. */
  callbackFailed(reason: 'database' | 'unexpected' | 'overloaded'): void {
    this.callbackFailures.inc({ reason });
  }

  /** A report was recorded with this outcome (called once per report, after it committed). */
  reportRecorded(
    report: { source: ReportSource; status: CommandStatus },
    outcome: ReportOutcome,
  ): void {
    if (report.source === 'callback' || report.source === 'iotda') {
      this.callbacks.inc({ status: report.status, outcome });
    }
    this.reports.inc({ source: report.source, status: report.status, outcome });
  }

  /** The sweeper finished a pass: how many commands became TIMEOUT and how many EXPIRED. */
  sweepCompleted(timedOut: number, expired: number): void {
    this.sweeps.inc();
    this.swept.inc({ status: 'TIMEOUT' }, timedOut);
    this.swept.inc({ status: 'EXPIRED' }, expired);
  }

  /** A sweep failed (logged; the next one runs later). */
  sweepFailed(): void {
    this.sweepFailures.inc();
  }

  /** The value of a counter without labels, or the sum over its labels: for tests and the page. */
  async counterValue(name: string): Promise<number> {
    const metric = await this.registry.getSingleMetric(name)?.get();
    return (metric?.values ?? []).reduce((sum, { value }) => sum + value, 0);
  }

  /** Retention deleted this many finished commands. */
  retentionCompleted(deleted: number): void {
    this.retentionDeleted.inc(deleted);
  }

  httpRequestCompleted(
    method: string,
    route: string,
    statusCode: number,
    durationSeconds: number,
  ): void {
    this.httpDuration.observe({ method, route, status_code: String(statusCode) }, durationSeconds);
  }
}
