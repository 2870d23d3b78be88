import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { ChangeReader } from '../feed/change-reader.js';
import { AmqpSink } from './amqp-sink.js';
import { EventMetrics } from './event-metrics.js';
import { type EventSink, type SinkName } from './event-sink.js';
import { NatsSink } from './nats-sink.js';
import { SinkCursors } from './sink-cursors.js';
import { SinkRunner } from './sink-runner.js';
import { WebhookSink } from './webhook-sink.js';

export interface SinkStatus {
  readonly sink: SinkName;
  /** Seconds behind (sink-statements.ts), undefined before the sink was first fed. */
  readonly lagSeconds: number | undefined;
  /** This instance holds the sink's lease. */
  readonly feeding: boolean;
}

/** The configured sinks of docs/events.md, each fed by a SinkRunner from start-up to shutdown. */
@Injectable()
export class EventSinks implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly runners: SinkRunner[];
  readonly maxLagSeconds: number;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    reader: ChangeReader,
    private readonly cursors: SinkCursors,
    metrics: EventMetrics,
  ) {
    const { amqp, nats, webhook, maxLagSeconds } = config.events;
    const sinks: EventSink[] = [
      ...(amqp === undefined ? [] : [new AmqpSink(amqp.url, amqp.exchange)]),
      ...(nats === undefined ? [] : [new NatsSink(nats.url, nats.subject)]),
      ...(webhook === undefined ? [] : [new WebhookSink(webhook.url, webhook.secret)]),
    ];
    // Unique per instance and run: a restarted instance waits for its old lease like any other.
    const holder = `${hostname()}/${process.pid}/${randomUUID()}`;
    this.runners = sinks.map(
      (sink) => new SinkRunner(sink, reader, cursors, metrics, holder, maxLagSeconds),
    );
    this.maxLagSeconds = maxLagSeconds;
    if (this.runners.length > 0) {
      metrics.watch(this.names, () => cursors.lagSeconds(this.names));
    }
  }

  get names(): SinkName[] {
    return this.runners.map((runner) => runner.sink.name);
  }

  onApplicationBootstrap(): void {
    for (const runner of this.runners) {
      runner.start();
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.runners.map((runner) => runner.stop()));
  }

  async status(): Promise<SinkStatus[]> {
    const lag = await this.cursors.lagSeconds(this.names);
    return this.runners.map((runner) => ({
      sink: runner.sink.name,
      lagSeconds: lag.get(runner.sink.name),
      feeding: runner.feeding,
    }));
  }
}
