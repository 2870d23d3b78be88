import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import { type CommandStatus, type ReportOutcome } from '../commands/command-status.js';
import { type PlatformName } from '../config/config.js';
import { CommandMetrics } from '../metrics/command-metrics.js';
import { type CallResult, type PlatformOperation } from './platform-client.js';

/** The platform integration's counters, in the service's one registry (GET /metrics). */
@Injectable()
export class PlatformMetrics {
  private readonly calls: Counter<'platform' | 'operation' | 'result'>;
  private readonly learned: Counter<'status' | 'outcome'>;
  private readonly failures: Counter<'reason'>;

  constructor(metrics: CommandMetrics) {
    const registers = [metrics.registry];
    this.calls = new Counter({
      name: 'platform_calls_total',
      help: 'Calls to the IoT platform, by platform, operation and result (ok, refused, not_found, timeout, lost, unreachable)',
      labelNames: ['platform', 'operation', 'result'] as const,
      registers,
    });
    this.learned = new Counter({
      name: 'command_reconciled_total',
      help: 'Statuses read from the platform by reconciliation, by status and the outcome the rule gave them',
      labelNames: ['status', 'outcome'] as const,
      registers,
    });
    this.failures = new Counter({
      name: 'reconciliation_failures_total',
      help: 'Reconciliation lookups or passes that failed (logged; retried on a later pass)',
      labelNames: ['reason'] as const,
      registers,
    });
  }

  callCompleted(platform: PlatformName, operation: PlatformOperation, result: CallResult): void {
    this.calls.inc({ platform, operation, result });
  }

  statusLearned(status: CommandStatus, outcome: ReportOutcome): void {
    this.learned.inc({ status, outcome });
  }

  reconciliationFailed(reason: 'platform' | 'database'): void {
    this.failures.inc({ reason });
  }
}
