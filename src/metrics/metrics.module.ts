import { Global, Module, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { type FastifyInstance } from 'fastify';
import { type Subscription } from 'rxjs';
import { CommandsModule } from '../commands/commands.module.js';
import { DeadlineSweeper } from '../commands/deadline-sweeper.js';
import { CommandMetrics } from './command-metrics.js';
import { MetricsController } from './metrics.controller.js';

// Requests that matched no route share one label, so unknown URLs cannot grow the series count.
const UNMATCHED_ROUTE = 'unmatched';

/** GET /metrics, and CommandMetrics for whoever records something (global: no imports needed). */
@Global()
@Module({
  imports: [CommandsModule],
  controllers: [MetricsController],
  providers: [CommandMetrics],
  exports: [CommandMetrics],
})
export class MetricsModule implements OnModuleInit, OnModuleDestroy {
  private sweeps: Subscription | undefined;

  constructor(
    private readonly metrics: CommandMetrics,
    private readonly adapterHost: HttpAdapterHost,
    private readonly sweeper: DeadlineSweeper,
  ) {}

  onModuleInit(): void {
    this.sweeps = this.sweeper.sweeps.subscribe((result) => {
      this.metrics.sweepCompleted(result.timedOut, result.expired);
      this.metrics.retentionCompleted(result.purged);
    });
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    // Every answer is observed, including Fastify's own refusals (400, 413, 415) and 404s.
    fastify.addHook('onResponse', (request, reply, done) => {
      this.metrics.httpRequestCompleted(
        request.method,
        request.routeOptions.url ?? UNMATCHED_ROUTE,
        reply.statusCode,
        reply.elapsedTime / 1000,
      );
      done();
    });
  }

  onModuleDestroy(): void {
    this.sweeps?.unsubscribe();
  }
}
