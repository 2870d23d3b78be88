import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { type FastifyReply } from 'fastify';
import { CommandMetrics } from './command-metrics.js';

@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: CommandMetrics) {}

  @Get()
  @ApiOperation({
    summary: 'Prometheus metrics',
    description:
      'Callbacks by status and outcome, sweeps, HTTP latency by route, database pool use, and the process metrics.',
  })
  @ApiProduces('text/plain')
  @ApiOkResponse({
    description: 'Prometheus text exposition format',
    content: {
      'text/plain': {
        schema: {
          type: 'string',
          example:
            '# HELP command_callbacks_total Status callbacks from the platform that were recorded, by reported status and outcome\n' +
            '# TYPE command_callbacks_total counter\n' +
            'command_callbacks_total{status="SENT",outcome="applied"} 42\n',
        },
      },
    },
  })
  async scrape(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    void reply.header('content-type', this.metrics.registry.contentType);
    return this.metrics.registry.metrics();
  }
}
