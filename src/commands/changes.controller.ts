import { Controller, Get, Query, Req, Res, UseGuards } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { AcceptsAccessTokenQuery, ApiKeyGuard } from '../http/auth.guards.js';
import { ValidationProblem } from '../http/problem.js';
import { CommandChanges } from './command-changes.js';
import { ProblemResponse } from './dto/command.response.js';
import { ChangesQuery, EVENT_ID } from './dto/changes.query.js';

@ApiTags('changes')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@ApiResponse({ status: 401, type: ProblemResponse, description: 'API_KEYS set and no valid key' })
@Controller('changes')
export class ChangesController {
  constructor(private readonly changes: CommandChanges) {}

  @Get()
  @AcceptsAccessTokenQuery()
  @ApiOperation({
    summary: 'Server-sent events of applied status changes, from every instance, as they commit',
    description:
      'Each message: `id` (history event id), `event: command-status`, `data` JSON with commandId, deviceId, status, previousStatus, source, version, receivedAt. Comment lines are heartbeats. Reconnecting with Last-Event-ID first replays the applied changes recorded after it.',
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume after this event id' })
  @ApiQuery({
    name: 'access_token',
    required: false,
    description: 'An API key, for EventSource, which cannot send headers',
  })
  @ApiOkResponse({
    description: 'The stream',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  })
  @ApiResponse({ status: 400, type: ProblemResponse, description: 'Invalid parameter' })
  @ApiResponse({ status: 503, type: ProblemResponse, description: 'Database unavailable' })
  async stream(
    @Query() query: ChangesQuery,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const header = request.headers['last-event-id'];
    if (Array.isArray(header)) {
      throw ValidationProblem.of('Last-Event-ID', 'must be given at most once');
    }
    const fromHeader = header?.trim();
    if (fromHeader !== undefined && fromHeader !== '' && !EVENT_ID.test(fromHeader)) {
      throw ValidationProblem.of('Last-Event-ID', 'must be an event id (a whole number)');
    }
    const lastEventId =
      fromHeader !== undefined && fromHeader !== '' ? fromHeader : query.lastEventId;
    if (request.method === 'HEAD') {
      // Fastify answers HEAD with the GET handler: headers only, no stream to keep open.
      await reply.status(200).header('content-type', 'text/event-stream').send();
      return;
    }
    // Fails with a problem response (503) before anything is written when the feed cannot start.
    await this.changes.stream(reply.raw, {
      filter: { deviceId: query.deviceId, commandId: query.commandId },
      lastEventId,
      headers: { 'x-request-id': request.id },
      takeOver: () => {
        void reply.hijack();
      },
    });
  }
}
