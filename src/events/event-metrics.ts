import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { CommandMetrics } from '../metrics/command-metrics.js';
import { type SinkName } from './event-sink.js';

/** The events sinks' metrics, in the instance's registry. */
@Injectable()
export class EventMetrics {
  private readonly deliveredTotal: Counter<'sink'>;
  private readonly failures: Counter<'sink'>;
  private lag: (() => Promise<Map<string, number>>) | undefined;

  constructor(metrics: CommandMetrics) {
    const registers = [metrics.registry];
    this.deliveredTotal = new Counter({
      name: 'events_delivered_total',
      help: 'Applied changes this instance delivered to a sink and the sink confirmed, by sink',
      labelNames: ['sink'] as const,
      registers,
    });
    this.failures = new Counter({
      name: 'events_failures_total',
      help: 'Failed delivery attempts to a sink (each is retried with backoff), by sink',
      labelNames: ['sink'] as const,
      registers,
    });
    const lag = () => this.lag;
    new Gauge({
      name: 'events_lag_seconds',
      help: 'How long ago the oldest applied change a sink has not confirmed was received (0: none), by sink; read from the database, the same on every instance',
      labelNames: ['sink'] as const,
      registers,
      async collect() {
        const source = lag();
        if (source === undefined) {
          return;
        }
        try {
          for (const [sink, seconds] of await source()) {
            this.set({ sink }, seconds);
          }
        } catch {
          this.reset();
        }
      },
    });
  }

  /** Sinks whose counters start at 0 (rather than appearing at their first event), and their lag. */
  watch(sinks: readonly SinkName[], lag: () => Promise<Map<string, number>>): void {
    for (const sink of sinks) {
      this.deliveredTotal.inc({ sink }, 0);
      this.failures.inc({ sink }, 0);
    }
    this.lag = lag;
  }

  delivered(sink: SinkName, count: number): void {
    this.deliveredTotal.inc({ sink }, count);
  }

  failed(sink: SinkName): void {
    this.failures.inc({ sink });
  }
}
