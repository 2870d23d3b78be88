import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { type Counter } from 'prom-client';
import { CommandMetrics } from '../metrics/command-metrics.js';

const MINUTE_MS = 60_000;
// Often enough that every minute gets at least one reading, so a minute's count lands in it.
const SAMPLE_INTERVAL_MS = 10_000;
const MINUTES_KEPT = 61;

/** The start (in ms) of the minute that holds `time`. */
export function minuteOf(time: number): number {
  return Math.floor(time / MINUTE_MS) * MINUTE_MS;
}

/**
 * Pushes answered `ignored` (IoTDA messages for other resources) are not stored, so the database
 * cannot count them. This instance's metrics counter can: it is read every few seconds, and the
 * growth between two minutes' last readings is that minute's count. Only this instance's pushes,
 * and only since it started; the page says so.
 */
@Injectable()
export class IgnoredReports implements OnModuleInit, OnModuleDestroy {
  /** The counter's last reading in each minute, oldest first. */
  private readonly readings = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  readonly countedSince = new Date();

  constructor(private readonly metrics: CommandMetrics) {}

  onModuleInit(): void {
    // The counter starts at zero with the instance: that is the reading before its first minute.
    this.readings.set(minuteOf(this.countedSince.getTime()) - MINUTE_MS, 0);
    this.timer = setInterval(() => void this.sample(), SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Reads the counter now and records it under the current minute. */
  async sample(now = Date.now()): Promise<void> {
    const total = await this.total();
    this.readings.set(minuteOf(now), total);
    for (const minute of this.readings.keys()) {
      if (minute >= minuteOf(now) - MINUTES_KEPT * MINUTE_MS || this.readings.size <= 2) {
        break;
      }
      this.readings.delete(minute);
    }
  }

  /** Ignored pushes per minute start (ms), for the minutes at or after `since` that had any. */
  perMinute(since: number): Map<number, number> {
    const counts = new Map<number, number>();
    let previous: number | undefined;
    for (const [minute, total] of this.readings) {
      if (previous !== undefined && minute >= since && total > previous) {
        counts.set(minute, total - previous);
      }
      previous = total;
    }
    return counts;
  }

  private async total(): Promise<number> {
    const counter = this.metrics.registry.getSingleMetric('command_callbacks_total') as
      Counter | undefined;
    const values = (await counter?.get())?.values ?? [];
    return values
      .filter((value) => value.labels.outcome === 'ignored')
      .reduce((sum, value) => sum + value.value, 0);
  }
}
