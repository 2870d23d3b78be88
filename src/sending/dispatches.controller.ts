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
  ApiAcceptedResponse,
  ApiBearerAuth,
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
import { ListDispatchesQuery, QueueDispatchDto } from './dispatches.dto.js';
import { type DispatchJson, DispatchesService } from './dispatches.service.js';

@ApiTags('dispatches')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@ApiResponse({ status: 401, type: ProblemResponse, description: 'API_KEYS set and no valid key' })
@ApiResponse({ status: 503, type: ProblemResponse, description: 'The database is unavailable' })
@Controller('dispatches')
export class DispatchesController {
  constructor(private readonly dispatches: DispatchesService) {}

  @Post()
  @HttpCode(202)
  @ApiBody({ type: QueueDispatchDto })
  @ApiOperation({ summary: 'Queue a command for a device: sent in order, retried, paced' })
  @ApiIdempotencyKey()
  @ApiAcceptedResponse({ description: 'Queued (or the dispatch that holds this Idempotency-Key)' })
  @ApiResponse({ status: 400, type: ProblemResponse, description: 'Invalid body; nothing stored' })
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
  enqueue(
    @Body(new BodyPipe(QueueDispatchDto)) dto: QueueDispatchDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
  ): Promise<DispatchJson> {
    return this.dispatches.enqueue(dto, idempotencyKeyOf(idempotencyKey));
  }

  @Get()
  @ApiOperation({ summary: 'Dispatches, newest first, in cursor pages' })
  @ApiOkResponse({ description: '{ items, nextCursor }' })
  @ApiResponse({ status: 400, type: ProblemResponse, description: 'Invalid parameter' })
  list(
    @Query(new QueryPipe(ListDispatchesQuery)) query: ListDispatchesQuery,
  ): Promise<{ items: DispatchJson[]; nextCursor: string | null }> {
    return this.dispatches.list(query);
  }

  @Get(':dispatchId')
  @ApiOperation({ summary: 'A dispatch with its attempts' })
  @ApiParam({ name: 'dispatchId' })
  @ApiOkResponse({ description: 'The dispatch' })
  @ApiResponse({ status: 404, type: ProblemResponse, description: 'Unknown dispatch' })
  get(
    @Param('dispatchId', new IdentifierPipe('dispatchId')) dispatchId: string,
  ): Promise<DispatchJson> {
    return this.dispatches.get(dispatchId);
  }

  @Post(':dispatchId/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a queued dispatch' })
  @ApiParam({ name: 'dispatchId' })
  @ApiOkResponse({ description: 'Canceled' })
  @ApiResponse({ status: 404, type: ProblemResponse, description: 'Unknown dispatch' })
  @ApiResponse({ status: 409, type: ProblemResponse, description: 'Sending or closed already' })
  cancel(
    @Param('dispatchId', new IdentifierPipe('dispatchId')) dispatchId: string,
  ): Promise<DispatchJson> {
    return this.dispatches.cancel(dispatchId);
  }
}
