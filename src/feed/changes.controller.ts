import { DatabaseUnavailableError } from '../database/database-errors.js';
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
import { ProblemResponse } from '../commands/dto/command.response.js';
import { AcceptsAccessTokenQuery, ApiKeyGuard } from '../http/auth.guards.js';
import { ValidationProblem } from '../http/problem.js';
import { ChangeFeed } from './change-feed.js';
import { ChangeReader } from './change-reader.js';
import { ChangesQuery, EVENT_ID, EVENT_ID_MESSAGE } from './changes.query.js';
import { QueryPipe } from '../http/validation.js';
import { type FeedPosition, decodePosition } from './feed-position.js';

@ApiTags('changes')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@ApiResponse({ status: 401, type: ProblemResponse, description: 'API_KEYS set and no valid key' })
@Controller('changes')
export class ChangesController {
  constructor(
    private readonly feed: ChangeFeed,
    private readonly reader: ChangeReader,
  ) {}

  @Get()
  @AcceptsAccessTokenQuery()
  @ApiOperation({
    summary: 'Server-sent events of applied status changes, from every instance, as they commit',
    description:
      'Each message: `id` (an opaque position in the feed, only increasing along the stream), `event: command-status`, `data` JSON with commandId, deviceId, status, previousStatus, source, version, receivedAt and historyId. The first message carries only `id`, the position the stream starts from, before any change: a client that reconnects with it (EventSource keeps it as its last event id) misses nothing committed after its 200. Comment lines are heartbeats. Reconnecting with Last-Event-ID first sends every applied change not yet received, exactly once, then the live stream follows.',
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
  @ApiResponse({
    status: 503,
    type: ProblemResponse,
    description:
      'Database unavailable, shutting down, or CHANGES_MAX_CLIENTS streams open (with Retry-After)',
  })
  async stream(
    @Query(new QueryPipe(ChangesQuery)) query: ChangesQuery,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const header = request.headers['last-event-id'];
    if (Array.isArray(header)) {
      throw ValidationProblem.of('Last-Event-ID', 'must be given at most once');
    }
    const fromHeader = header?.trim();
    if (fromHeader !== undefined && fromHeader !== '' && !EVENT_ID.test(fromHeader)) {
      throw ValidationProblem.of('Last-Event-ID', EVENT_ID_MESSAGE);
    }
    const lastEventId =
      fromHeader !== undefined && fromHeader !== '' ? fromHeader : query.lastEventId;
    if (request.method === 'HEAD') {
      // Fastify answers HEAD with the GET handler: headers only, no stream to keep open.
      await reply.status(200).header('content-type', 'text/event-stream').send();
      return;
    }
    const after =
      lastEventId === undefined
        ? undefined
        : await this.positionOf(lastEventId, fromHeader ? 'Last-Event-ID' : 'lastEventId');
    // Fails with a problem response (503) before anything is written when the feed cannot start.
    await this.feed.stream(reply.raw, {
      filter: { deviceId: query.deviceId, commandId: query.commandId },
      after,
      headers: { 'x-request-id': request.id },
      takeOver: () => {
        void reply.hijack();
      },
    });
  }

  private async positionOf(eventId: string, field: string): Promise<FeedPosition> {
    if (eventId.includes('-')) {
      const position = decodePosition(eventId);
      if (position === undefined) {
        throw ValidationProblem.of(field, EVENT_ID_MESSAGE);
      }
      return position;
    }
    // A bare history id: 0 is the feed's start; another resumes just after that history entry.
    const historyId = BigInt(eventId);
    if (historyId === 0n) {
      return { xid: 0n, id: 0n };
    }
    let found: FeedPosition | undefined;
    try {
      found = await this.reader.positionOfHistoryId(historyId);
    } catch (error) {
      throw new DatabaseUnavailableError(error);
    }
    if (found === undefined) {
      throw ValidationProblem.of(field, 'names no history entry (it may have been deleted)');
    }
    return found;
  }
}
