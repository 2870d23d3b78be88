import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Param,
  Post,
  Query,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiResponse,
  ApiTags,
  ApiBody,
} from '@nestjs/swagger';
import { ProblemResponse } from '../commands/dto/command.response.js';
import { ApiKeyGuard } from '../http/auth.guards.js';
import { ApiIdempotencyKey, idempotencyKeyOf } from '../http/idempotency-key.js';
import { BodyPipe, IdentifierPipe, QueryPipe } from '../http/validation.js';
import { CreateCampaignDto, ListCampaignsQuery } from './campaigns.dto.js';
import { type CampaignJson, CampaignsService } from './campaigns.service.js';

@ApiTags('campaigns')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@ApiResponse({ status: 401, type: ProblemResponse, description: 'API_KEYS set and no valid key' })
@ApiResponse({ status: 503, type: ProblemResponse, description: 'The database is unavailable' })
@Controller('campaigns')
export class CampaignsController {
  constructor(private readonly campaigns: CampaignsService) {}

  @Post()
  @HttpCode(201)
  @ApiBody({ type: CreateCampaignDto })
  @ApiOperation({ summary: 'One command to many devices: paced, with a canary and an abort' })
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ description: 'Created (or the campaign that holds this Idempotency-Key)' })
  @ApiResponse({ status: 400, type: ProblemResponse, description: 'Invalid body; nothing stored' })
  @ApiResponse({ status: 413, type: ProblemResponse, description: 'Body over 8 MB' })
  @ApiResponse({
    status: 422,
    type: ProblemResponse,
    description: 'Idempotency-Key reused with another body',
  })
  @ApiResponse({
    status: 501,
    type: ProblemResponse,
    description: 'No platform configured (PLATFORM)',
  })
  create(
    @Body(new BodyPipe(CreateCampaignDto)) dto: CreateCampaignDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
  ): Promise<CampaignJson> {
    return this.campaigns.create(dto, idempotencyKeyOf(idempotencyKey));
  }

  @Get()
  @ApiOperation({ summary: 'Campaigns, newest first, in cursor pages' })
  @ApiOkResponse({ description: '{ items, nextCursor }' })
  @ApiResponse({ status: 400, type: ProblemResponse, description: 'Invalid parameter' })
  list(
    @Query(new QueryPipe(ListCampaignsQuery)) query: ListCampaignsQuery,
  ): Promise<{ items: CampaignJson[]; nextCursor: string | null }> {
    return this.campaigns.list(query);
  }

  @Get(':campaignId')
  @ApiOperation({ summary: 'A campaign with its counts by dispatch state and command status' })
  @ApiParam({ name: 'campaignId' })
  @ApiOkResponse({ description: 'The campaign' })
  @ApiResponse({ status: 404, type: ProblemResponse, description: 'Unknown campaign' })
  get(
    @Param('campaignId', new IdentifierPipe('campaignId')) campaignId: string,
  ): Promise<CampaignJson> {
    return this.campaigns.get(campaignId);
  }

  @Post(':campaignId/pause')
  @HttpCode(200)
  @ApiOperation({ summary: 'Release no more; released dispatches not sent yet wait again' })
  @ApiParam({ name: 'campaignId' })
  @ApiOkResponse({ description: 'Paused' })
  @ApiResponse({ status: 404, type: ProblemResponse, description: 'Unknown campaign' })
  @ApiResponse({ status: 409, type: ProblemResponse, description: 'Not scheduled or running' })
  pause(
    @Param('campaignId', new IdentifierPipe('campaignId')) campaignId: string,
  ): Promise<CampaignJson> {
    return this.campaigns.pause(campaignId);
  }

  @Post(':campaignId/resume')
  @HttpCode(200)
  @ApiOperation({ summary: 'Release again' })
  @ApiParam({ name: 'campaignId' })
  @ApiOkResponse({ description: 'Running (or scheduled, before startAt)' })
  @ApiResponse({ status: 404, type: ProblemResponse, description: 'Unknown campaign' })
  @ApiResponse({ status: 409, type: ProblemResponse, description: 'Not paused' })
  resume(
    @Param('campaignId', new IdentifierPipe('campaignId')) campaignId: string,
  ): Promise<CampaignJson> {
    return this.campaigns.resume(campaignId);
  }

  @Post(':campaignId/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel the campaign and its queued dispatches' })
  @ApiParam({ name: 'campaignId' })
  @ApiOkResponse({ description: 'Canceled' })
  @ApiResponse({ status: 404, type: ProblemResponse, description: 'Unknown campaign' })
  @ApiResponse({
    status: 409,
    type: ProblemResponse,
    description: 'Completed, aborted or canceled',
  })
  cancel(
    @Param('campaignId', new IdentifierPipe('campaignId')) campaignId: string,
  ): Promise<CampaignJson> {
    return this.campaigns.cancel(campaignId);
  }

  @Post(':campaignId/retry-failed')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'New dispatches for the devices whose command or dispatch failed, timed out or expired',
  })
  @ApiParam({ name: 'campaignId' })
  @ApiOkResponse({ description: 'The campaign, running again if it had completed or aborted' })
  @ApiResponse({ status: 404, type: ProblemResponse, description: 'Unknown campaign' })
  @ApiResponse({ status: 409, type: ProblemResponse, description: 'Canceled' })
  retryFailed(
    @Param('campaignId', new IdentifierPipe('campaignId')) campaignId: string,
  ): Promise<CampaignJson> {
    return this.campaigns.retryFailed(campaignId);
  }
}
