import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { DATABASE_PROFILE, type DatabaseProfile } from '../database/database.module.js';
import { type ApplyResult, CommandsRepository, type Report } from './commands.repository.js';
import { type BatcherLimits, ReportBatcher } from './report-batcher.js';

// A callback is answered 503 after CALLBACK_DEADLINE_MS (4.5 s): a report is committed within this
// time of its arrival or not at all, never after its caller was told it was not stored.
const MAX_REPORT_AGE_MS = 3500;

/** How the write path is bounded; see BatcherLimits. */
export function writeLimits(poolSize: number, embedded: boolean): BatcherLimits {
  return {
    // The embedded database applies one batch at a time in its single session, on CPU it shares
    // with the service: a batch as large as the queue empties it at once, and each report then
    // costs it less, so that it keeps up with a backlog instead of refusing most of it.
    maxBatch: embedded ? 512 : 128,
    minBatchWhileBusy: 8,
    // Two batches at once: one is applied while the other waits for its commit to be flushed.
    // More make each batch smaller, and a batch costs PostgreSQL the same few steps whatever its
    // size: at 64 connections four in flight cost about 20 % more PostgreSQL CPU per report than
    // two (four alternating rounds; the bench before and after is in bench/RESULTS.md). Two
    // connections stay free for reads, the sweeper and reports applied alone.
    maxBatchesInFlight: embedded ? 1 : Math.max(1, Math.min(2, poolSize - 2)),
    maxQueued: 512,
    maxWaitMs: 1000,
    maxAgeMs: MAX_REPORT_AGE_MS,
  };
}

/**
 * The write path: with GROUP_COMMIT, reports that arrive together are applied in batches
 * (ReportBatcher), one transaction each; without it, each report alone. Either way a report
 * settles only once it is committed.
 */
@Injectable()
export class GroupCommit {
  private readonly batcher: ReportBatcher<Report, ApplyResult>;

  constructor(
    private readonly repository: CommandsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(DATABASE_PROFILE) profile: DatabaseProfile,
  ) {
    this.batcher = new ReportBatcher(
      {
        applyBatch: (reports, deadline) => repository.applyBatch(reports, deadline),
        applyAlone: (report, deadline) => repository.applyAlone(report, deadline),
        key: (report) => report.commandId,
      },
      writeLimits(profile.poolSize, profile.embedded),
    );
  }

  /** Whether a report arriving now would be refused (503) for want of room in the write path. */
  get overloaded(): boolean {
    return this.config.groupCommit && this.batcher.refusing;
  }

  /** Applies a report by the rank rule; settles once it is committed. */
  apply(report: Report): Promise<ApplyResult> {
    return this.config.groupCommit
      ? this.batcher.submit(report)
      : this.repository.applyAlone(report, performance.now() + MAX_REPORT_AGE_MS);
  }
}
