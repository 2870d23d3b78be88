import { Controller, Get, Inject, Param, Query, UseGuards } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiPropertyOptional,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { ProblemResponse } from '../commands/dto/command.response.js';
import { ApiKeyGuard } from '../http/auth.guards.js';
import { INSTANT_MESSAGE, instantOf } from '../http/instants.js';
import { IdentifierPipe, QueryPipe } from '../http/validation.js';
import { ParsedWith } from '../http/validators.js';
import { DashboardOverview, type Overview } from './dashboard-overview.js';
import { type DashboardSettings } from './dashboard-settings.js';
import { type StatusInfo, statusList } from './dashboard-statuses.js';
import { DashboardRepository } from './dashboard.repository.js';

export const DASHBOARD_SETTINGS = Symbol('DashboardSettings');

const DAY_MS = 24 * 60 * 60 * 1000;

export class OverviewQuery {
  @ApiPropertyOptional({
    type: String,
    description:
      'Start of the window whose commands (by createdAt) are counted too; default 24 h ago',
    example: '2026-11-26T00:00:00Z',
  })
  @ParsedWith('isInstant', instantOf, INSTANT_MESSAGE)
  since?: Date;
}

/** The counts the page needs and GET /commands cannot give; the same API-key rule as /commands. */
@ApiTags('dashboard')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@ApiResponse({ status: 401, type: ProblemResponse, description: 'API_KEYS set and no valid key' })
@Controller('dashboard/api')
export class DashboardApiController {
  constructor(
    private readonly overview: DashboardOverview,
    private readonly repository: DashboardRepository,
    @Inject(DASHBOARD_SETTINGS) private readonly settings: DashboardSettings,
  ) {}

  @Get('overview')
  @ApiOperation({
    summary:
      'Commands by status (all, and created since a time), the oldest open ones, and reports per minute by outcome over the last hour',
  })
  @ApiOkResponse({ description: 'The overview' })
  @ApiResponse({ status: 400, type: ProblemResponse, description: 'Invalid since' })
  async getOverview(@Query(new QueryPipe(OverviewQuery)) query: OverviewQuery): Promise<Overview> {
    return this.overview.read(query.since ?? new Date(Date.now() - DAY_MS));
  }

  @Get('settings')
  @ApiOperation({ summary: 'Which platform actions (reconcile, cancel) this service offers' })
  @ApiOkResponse({ description: '{ platform, reconcile, cancel }' })
  getSettings(): DashboardSettings {
    return this.settings;
  }

  @Get('statuses')
  @ApiOperation({
    summary: 'The command statuses in order, with their rank and whether they are open or final',
  })
  @ApiOkResponse({ description: '{ statuses: [{ name, rank, open, final }] }' })
  getStatuses(): { statuses: StatusInfo[] } {
    return { statuses: statusList() };
  }

  @Get('commands/:commandId/dispatch')
  @ApiOperation({
    summary:
      'The id of the dispatch (POST /dispatches) that created this command, or null (unknown command, or not sent through /dispatches)',
  })
  @ApiParam({ name: 'commandId' })
  @ApiOkResponse({ description: '{ dispatchId: string | null }; GET /dispatches/{id} has it' })
  @ApiResponse({ status: 400, type: ProblemResponse, description: 'Invalid commandId' })
  async getDispatchOf(
    @Param('commandId', new IdentifierPipe('commandId')) commandId: string,
  ): Promise<{ dispatchId: string | null }> {
    return { dispatchId: await this.repository.dispatchOf(commandId) };
  }
}
