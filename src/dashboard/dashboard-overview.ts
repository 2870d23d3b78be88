import { Injectable } from '@nestjs/common';
import { REPORT_OUTCOMES, type ReportOutcome } from '../commands/command-status.js';
import { DashboardRepository, type StatusCounts } from './dashboard.repository.js';
import { IgnoredReports, minuteOf } from './ignored-reports.js';

const MINUTE_MS = 60_000;
const CHART_MINUTES = 60;
const OLDEST_OPEN_SHOWN = 10;

export type ChartOutcome = ReportOutcome | 'ignored';
const CHART_OUTCOMES: readonly ChartOutcome[] = [...REPORT_OUTCOMES, 'ignored'];

export type MinuteBar = { minute: string } & Record<ChartOutcome, number>;

export interface Overview {
  generatedAt: string;
  statusCounts: StatusCounts;
  window: { since: string; statusCounts: StatusCounts };
  oldestOpen: unknown[];
  reportsPerMinute: {
    /** Every minute of the last hour, oldest first; the last one is the current, partial minute. */
    minutes: MinuteBar[];
    /** `ignored` counts this instance's pushes since this time only (they are not stored). */
    ignoredCountedSince: string;
  };
}

/** What the operations page shows first, in one answer. */
@Injectable()
export class DashboardOverview {
  constructor(
    private readonly repository: DashboardRepository,
    private readonly ignored: IgnoredReports,
  ) {}

  async read(windowSince: Date, now = new Date()): Promise<Overview> {
    const firstMinute = minuteOf(now.getTime()) - (CHART_MINUTES - 1) * MINUTE_MS;
    await this.ignored.sample(now.getTime());
    const [counts, oldestOpen, stored] = await Promise.all([
      this.repository.countByStatus(windowSince),
      this.repository.oldestOpen(OLDEST_OPEN_SHOWN),
      this.repository.reportsPerMinute(new Date(firstMinute)),
    ]);
    const ignored = this.ignored.perMinute(firstMinute);
    const minutes = Array.from({ length: CHART_MINUTES }, (_, index): MinuteBar => {
      const minute = firstMinute + index * MINUTE_MS;
      const bar = { minute: new Date(minute).toISOString() } as MinuteBar;
      for (const outcome of CHART_OUTCOMES) {
        bar[outcome] = 0;
      }
      bar.ignored = ignored.get(minute) ?? 0;
      return bar;
    });
    for (const row of stored) {
      const bar = minutes[(row.minute - firstMinute) / MINUTE_MS];
      if (bar !== undefined) {
        bar[row.outcome] += row.reports;
      }
    }
    return {
      generatedAt: now.toISOString(),
      statusCounts: counts.total,
      window: { since: windowSince.toISOString(), statusCounts: counts.recent },
      oldestOpen,
      reportsPerMinute: {
        minutes,
        ignoredCountedSince: this.ignored.countedSince.toISOString(),
      },
    };
  }
}
