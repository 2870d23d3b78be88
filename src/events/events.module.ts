import { Global, Module } from '@nestjs/common';
import { FeedModule } from '../feed/feed.module.js';
import { EventMetrics } from './event-metrics.js';
import { EventSinks } from './event-sinks.js';
import { SinkCursors } from './sink-cursors.js';

/**
 * The change feed delivered outward: RabbitMQ, NATS JetStream, webhooks (docs/events.md); idle
 * unless configured. Global so that /health/ready reads the sinks' lag.
 */
@Global()
@Module({
  imports: [FeedModule],
  providers: [SinkCursors, EventMetrics, EventSinks],
  exports: [EventSinks],
})
export class EventsModule {}
