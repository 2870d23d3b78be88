import { Global, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { type FastifyInstance } from 'fastify';
import { CommandLatency } from './command-latency.js';
import { CommandMetrics } from './command-metrics.js';
import { MetricsController } from './metrics.controller.js';

// Requests that matched no route share one label, so unknown URLs cannot grow the series count.
const UNMATCHED_ROUTE = 'unmatched';

/** GET /metrics, and CommandMetrics for whoever records something (global: no imports needed). */
@Global()
@Module({
  controllers: [MetricsController],
  providers: [CommandMetrics, CommandLatency],
  exports: [CommandMetrics, CommandLatency],
})
export class MetricsModule implements OnModuleInit {
  constructor(
    private readonly metrics: CommandMetrics,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onModuleInit(): void {
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
}
