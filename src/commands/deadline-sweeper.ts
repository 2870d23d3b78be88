import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { isDatabaseUnavailable } from '../database/database-errors.js';
import { ChangeReader } from '../feed/change-reader.js';
import { CommandMetrics } from '../metrics/command-metrics.js';
import { PollLoop } from '../scheduling/poll-loop.js';
import { CommandsRepository } from './commands.repository.js';

/** What one sweep did. */
export interface SweepResult {
  /** Overdue commands moved to TIMEOUT (they were SENT or DELIVERED). */
  timedOut: number;
  /** Overdue commands moved to EXPIRED (they were PENDING). */
  expired: number;
  /** Finished commands deleted by retention (RETENTION_DAYS), with their history. */
  purged: number;
}

// Each statement handles a bounded batch; a sweep repeats it while batches come back full,
// up to MAX_BATCHES_PER_SWEEP, leaving any rest to the next sweep.
export const SWEEP_BATCH_SIZE = 500;
const MAX_BATCHES_PER_SWEEP = 100;
// While the database is unreachable, sweeps back off up to this long.
const MAX_BACKOFF_MS = 5 * 60 * 1000;

/**
 * Every SWEEP_INTERVAL_SECONDS: times out overdue open commands (CommandsRepository.sweepOverdue)
 * and, with RETENTION_DAYS > 0, deletes old finished ones. Sweeps never overlap within an instance
 * (the next is scheduled when one ends) and are safe across instances (SKIP LOCKED). Failures are
 * logged and never stop the timer; while the database is down the interval backs off.
 */
@Injectable()
export class DeadlineSweeper implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(DeadlineSweeper.name);
  // runScheduled() catches its failures and says when the next sweep runs.
  private readonly loop = new PollLoop(
    () => this.runScheduled(),
    () => this.intervalMs,
  );
  private consecutiveFailures = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repository: CommandsRepository,
    private readonly feed: ChangeReader,
    private readonly metrics: CommandMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.loop.start(this.intervalMs);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.loop.stop();
  }

  /**
   * Runs one sweep now: overdue commands first, then retention. Safe to call while the timer
   * runs (tests do), also from several instances at once.
   */
  async sweep(): Promise<SweepResult> {
    const result: SweepResult = { timedOut: 0, expired: 0, purged: 0 };
    await this.inBatches(async () => {
      const swept = await this.repository.sweepOverdue(SWEEP_BATCH_SIZE);
      for (const status of swept) {
        if (status === 'EXPIRED') {
          result.expired++;
        } else {
          result.timedOut++;
        }
      }
      if (swept.length > 0) {
        this.feed.wake();
      }
      return swept.length;
    });
    if (this.config.retentionDays > 0) {
      await this.inBatches(async () => {
        const purged = await this.repository.purgeFinished(
          this.config.retentionDays,
          SWEEP_BATCH_SIZE,
        );
        result.purged += purged;
        return purged;
      });
    }
    this.metrics.sweepCompleted(result.timedOut, result.expired);
    this.metrics.retentionCompleted(result.purged);
    return result;
  }

  /** Runs `batch` (which says how many rows it handled) again while batches come back full. */
  private async inBatches(batch: () => Promise<number>): Promise<void> {
    for (let i = 0; i < MAX_BATCHES_PER_SWEEP && !this.loop.stopped; i++) {
      if ((await batch()) < SWEEP_BATCH_SIZE) {
        return;
      }
    }
  }

  private get intervalMs(): number {
    return this.config.sweepIntervalSeconds * 1000;
  }

  /** One scheduled sweep, its failure logged and counted; the delay until the next one. */
  private async runScheduled(): Promise<number> {
    let delayMs = this.intervalMs;
    try {
      const result = await this.sweep();
      this.consecutiveFailures = 0;
      if (result.timedOut + result.expired + result.purged > 0) {
        this.logger.log(
          `Swept: ${result.timedOut} timed out, ${result.expired} expired, ${result.purged} purged`,
        );
      }
    } catch (error) {
      this.metrics.sweepFailed();
      this.consecutiveFailures++;
      if (isDatabaseUnavailable(error)) {
        delayMs = Math.min(
          this.intervalMs * 2 ** Math.min(this.consecutiveFailures, 10),
          MAX_BACKOFF_MS,
        );
        delayMs = Math.max(delayMs, this.intervalMs);
        this.logger.warn(
          `Sweep skipped, database unavailable (${describe(error)}); next in ${Math.round(delayMs / 1000)} s`,
        );
      } else {
        this.logger.error(`Sweep failed: ${describe(error)}`);
      }
    }
    return delayMs;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
