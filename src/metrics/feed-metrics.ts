import { Injectable } from '@nestjs/common';
import { Gauge, Histogram } from 'prom-client';
import { CommandMetrics } from './command-metrics.js';

/** What the change feed reports when scraped. */
export interface FeedGauges {
  /** GET /changes streams open on this instance. */
  clients(): number;
  /** Age of the oldest transaction with an id on the database server (see docs/change-feed.md). */
  holdbackSeconds(): Promise<number>;
}

/** The change feed's metrics, in the instance's registry. */
@Injectable()
export class FeedMetrics {
  private readonly delay: Histogram;
  private gauges: FeedGauges | undefined;

  constructor(metrics: CommandMetrics) {
    const registers = [metrics.registry];
    this.delay = new Histogram({
      name: 'command_feed_delay_seconds',
      help: 'Time from recording an applied change to the change feed reading it on this instance',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    const gauges = () => this.gauges;
    new Gauge({
      name: 'command_feed_clients',
      help: 'GET /changes streams open on this instance',
      registers,
      collect() {
        this.set(gauges()?.clients() ?? 0);
      },
    });
    new Gauge({
      name: 'command_feed_holdback_seconds',
      help: 'Age of the oldest transaction holding a transaction id on the database server: changes committed after it began are not streamed until it ends',
      registers,
      async collect() {
        const source = gauges();
        // Scraped only while the feed has clients: otherwise nothing is held back.
        if (source === undefined || source.clients() === 0) {
          this.set(0);
          return;
        }
        try {
          this.set(await source.holdbackSeconds());
        } catch {
          this.set(Number.NaN);
        }
      },
    });
  }

  watch(gauges: FeedGauges): void {
    this.gauges = gauges;
  }

  /** The reader passed on a change recorded `seconds` ago. */
  changeRead(seconds: number): void {
    this.delay.observe(Math.max(0, seconds));
  }
}
