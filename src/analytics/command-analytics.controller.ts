import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ProblemResponse } from '../commands/dto/command.response.js';
import { ApiKeyGuard } from '../http/auth.guards.js';
import { QueryPipe } from '../http/validation.js';
import { CommandAnalyticsQuery } from './command-analytics.query.js';
import { type CommandAnalyticsJson, CommandAnalyticsService } from './command-analytics.service.js';

@ApiTags('analytics')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@ApiResponse({ status: 401, type: ProblemResponse, description: 'API_KEYS set and no valid key' })
@ApiResponse({ status: 503, type: ProblemResponse, description: 'The database is unavailable' })
@Controller('analytics')
export class CommandAnalyticsController {
  constructor(private readonly analytics: CommandAnalyticsService) {}

  @Get('commands')
  @ApiOperation({
    summary: 'Success rate and p50/p90/p99 latencies to SENT, DELIVERED and final, by command',
  })
  @ApiOkResponse({
    description:
      '{ commands, final, successPercent, latencyMs: { toSent, toDelivered, toFinal }, byCommand }',
  })
  @ApiResponse({ status: 400, type: ProblemResponse, description: 'Invalid parameter' })
  commands(
    @Query(new QueryPipe(CommandAnalyticsQuery)) query: CommandAnalyticsQuery,
  ): Promise<CommandAnalyticsJson> {
    return this.analytics.analyse(query);
  }
}
