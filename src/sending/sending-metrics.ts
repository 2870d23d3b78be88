import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { CommandMetrics } from '../metrics/command-metrics.js';
import { DispatchQueueRepository } from './dispatch-queue.repository.js';
import { ATTEMPT_OUTCOMES, type AttemptOutcome, DISPATCH_STATES } from './dispatches.dto.js';

// One scrape reads the queue's counts once for its three gauges.
const STATS_FRESH_MS = 1000;
// /metrics answers while the database is slow or down: with the last counts read, if need be.
const STATS_WAIT_MS = 500;

type QueueStats = Awaited<ReturnType<DispatchQueueRepository['stats']>>;

/** The queue in /metrics: dispatches by state, attempts by outcome, depth and oldest age. */
@Injectable()
export class SendingMetrics {
  private readonly attempts: Counter<'outcome'>;
  private stats: { at: number; read: Promise<QueueStats> } | undefined;
  private known: QueueStats = { byState: new Map(), oldestQueuedAt: null };

  constructor(
    metrics: CommandMetrics,
    private readonly queue: DispatchQueueRepository,
  ) {
    const registers = [metrics.registry];
    this.attempts = new Counter({
      name: 'dispatch_attempts_total',
      help: 'Platform calls made for /dispatches by this instance, by outcome',
      labelNames: ['outcome'] as const,
      registers,
    });
    for (const outcome of ATTEMPT_OUTCOMES) {
      this.attempts.inc({ outcome }, 0);
    }
    const latest = () => this.latest();
    new Gauge({
      name: 'dispatches',
      help: 'Dispatches by state, across all instances (read from the database at each scrape)',
      labelNames: ['state'] as const,
      registers,
      async collect() {
        const { byState } = await latest();
        for (const state of DISPATCH_STATES) {
          this.set({ state }, byState.get(state) ?? 0);
        }
      },
    });
    new Gauge({
      name: 'dispatch_queue_depth',
      help: 'Dispatches queued or sending, across all instances',
      registers,
      async collect() {
        const { byState } = await latest();
        this.set((byState.get('queued') ?? 0) + (byState.get('sending') ?? 0));
      },
    });
    new Gauge({
      name: 'dispatch_oldest_queued_age_seconds',
      help: 'How long the longest-waiting queued dispatch has been in line (its notBefore passed, released); 0 when none is',
      registers,
      async collect() {
        const { oldestQueuedAt } = await latest();
        this.set(oldestQueuedAt === null ? 0 : (Date.now() - oldestQueuedAt.getTime()) / 1000);
      },
    });
  }

  attempted(outcome: AttemptOutcome): void {
    this.attempts.inc({ outcome });
  }

  private latest(): Promise<QueueStats> {
    if (this.stats === undefined || Date.now() - this.stats.at > STATS_FRESH_MS) {
      const read = this.queue.stats().then(
        (stats) => (this.known = stats),
        () => this.known,
      );
      this.stats = { at: Date.now(), read };
    }
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<QueueStats>((resolve) => {
      timer = setTimeout(() => resolve(this.known), STATS_WAIT_MS);
    });
    return Promise.race([this.stats.read, waited]).finally(() => clearTimeout(timer));
  }
}
