import { Controller, Get, Header, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiKeyGuard } from '../http/auth.guards.js';
import { ValidationProblem } from '../http/problem.js';
import { QueryPipe } from '../http/validation.js';
import { CommandsService } from './commands.service.js';
import { CountsResponse, ProblemResponse } from './dto/command.response.js';
import { CountsQuery, combinationProblem } from './dto/read-queries.js';

/** Counts over the commands, with the filters of GET /commands; the same API-key rule. */
@ApiTags('analytics')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@ApiResponse({ status: 401, type: ProblemResponse, description: 'API_KEYS set and no valid key' })
@Controller('analytics')
export class AnalyticsController {
  constructor(private readonly commands: CommandsService) {}

  @Get('counts')
  @ApiOperation({
    summary: 'How many commands match the filters of GET /commands, in total and grouped',
    description:
      'groupBy status, deviceId or command (serviceId and method): the largest `limit` groups first.',
  })
  @ApiOkResponse({ type: CountsResponse })
  @ApiResponse({ status: 400, type: ProblemResponse, description: 'Invalid parameter' })
  @Header('content-type', 'application/json; charset=utf-8')
  async counts(@Query(new QueryPipe(CountsQuery)) query: CountsQuery): Promise<string> {
    const problem = combinationProblem(query);
    if (problem !== undefined) {
      throw new ValidationProblem([problem]);
    }
    return this.commands.countsJson(query);
  }
}
