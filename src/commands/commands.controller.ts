import {
  Body,
  Controller,
  Get,
  Header,
  Param,
  Post,
  Query,
  Req,
  Res,
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
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { ApiKeyGuard } from '../http/auth.guards.js';
import { ResponseBudget } from '../http/bounded-responses.js';
import { ValidationProblem } from '../http/problem.js';
import { type ResponseBody } from './commands.reader.js';
import { CommandsService } from './commands.service.js';
import {
  CommandPageResponse,
  CommandWithHistoryResponse,
  HistoryPageResponse,
  ProblemResponse,
} from './dto/command.response.js';
import { combinationProblem, HistoryPageQuery, ListCommandsQuery } from './dto/read-queries.js';
import { MAX_LOOKUP_HISTORY_ENTRIES, MAX_RESPONSE_BYTES } from './sql/read.js';
import { RegisterCommandDto } from './dto/register-command.dto.js';
import { BodyPipe, IdentifierPipe, QueryPipe } from '../http/validation.js';

// Bodies come from PostgreSQL as JSON text (see sql/read.ts) and are sent as they are.
const JSON_BODY = 'application/json; charset=utf-8';

// The memory that this process's command bodies (up to 4 MB each) may take at once, being read
// or waiting for slow clients; reads beyond it wait.
const RESPONSE_BYTES_IN_FLIGHT = 32 * 1024 * 1024;
const responses = new ResponseBudget(MAX_RESPONSE_BYTES, RESPONSE_BYTES_IN_FLIGHT);

@ApiTags('commands')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@ApiResponse({ status: 401, type: ProblemResponse, description: 'API_KEYS set and no valid key' })
@Controller('commands')
export class CommandsController {
  constructor(private readonly commands: CommandsService) {}

  @Post()
  @ApiBody({ type: RegisterCommandDto })
  @ApiOperation({
    summary: 'Register a command created on the platform, so it is tracked before any callback',
  })
  @ApiCreatedResponse({ type: CommandWithHistoryResponse, description: 'Registered' })
  @ApiOkResponse({ type: CommandWithHistoryResponse, description: 'Already known; merged' })
  @ApiResponse({ status: 400, type: ProblemResponse, description: 'Invalid body; nothing stored' })
  @ApiResponse({
    status: 409,
    type: ProblemResponse,
    description: 'Known under another deviceId, serviceId or method',
  })
  @Header('content-type', JSON_BODY)
  async register(
    @Body(new BodyPipe(RegisterCommandDto)) dto: RegisterCommandDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ResponseBody> {
    const deadline = dto.deadline ?? null;
    const timeoutSeconds = dto.timeoutSeconds ?? null;
    if (deadline !== null && timeoutSeconds !== null) {
      throw ValidationProblem.of('deadline', 'and timeoutSeconds cannot both be given');
    }
    const recorded = await this.commands.report({
      commandId: dto.commandId,
      deviceId: dto.deviceId,
      status: dto.status ?? 'PENDING',
      resultDetail: null,
      payload: request.body,
      source: 'registration',
      registration: {
        serviceId: dto.serviceId ?? null,
        method: dto.method ?? null,
        paras: dto.paras ?? null,
        deadline,
        timeoutSeconds,
      },
    });
    void reply.status(recorded.created ? 201 : 200);
    return responses.within(reply.raw, () => this.commands.getJson(dto.commandId));
  }

  @Get(':commandId')
  @ApiOperation({
    summary: 'A command with its history, oldest first',
    description: `The latest ${MAX_LOOKUP_HISTORY_ENTRIES} history entries at most, and only as many as keep the response within 4 MB of JSON; historyTruncated says whether any were left out (GET /commands/{commandId}/history has them all).`,
  })
  @ApiParam({ name: 'commandId', example: '108a9c71462a48e09426e06e844d47ba' })
  @ApiOkResponse({ type: CommandWithHistoryResponse })
  @ApiResponse({ status: 400, type: ProblemResponse, description: 'Invalid commandId' })
  @ApiResponse({ status: 404, type: ProblemResponse, description: 'Unknown command' })
  @Header('content-type', JSON_BODY)
  async get(
    @Param('commandId', new IdentifierPipe('commandId')) commandId: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ResponseBody> {
    return responses.within(reply.raw, () => this.commands.getJson(commandId));
  }

  @Get(':commandId/history')
  @ApiOperation({
    summary: "A command's whole history in pages, oldest first",
    description: 'A page holds at most `limit` entries and stops early at 4 MB of JSON.',
  })
  @ApiParam({ name: 'commandId', example: '108a9c71462a48e09426e06e844d47ba' })
  @ApiOkResponse({ type: HistoryPageResponse })
  @ApiResponse({ status: 400, type: ProblemResponse, description: 'Invalid parameter' })
  @ApiResponse({ status: 404, type: ProblemResponse, description: 'Unknown command' })
  @Header('content-type', JSON_BODY)
  async history(
    @Param('commandId', new IdentifierPipe('commandId')) commandId: string,
    @Query(new QueryPipe(HistoryPageQuery)) query: HistoryPageQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ResponseBody> {
    return responses.within(reply.raw, () => this.commands.historyJson(commandId, query));
  }

  @Get()
  @ApiOperation({
    summary:
      'Commands, newest or longest silent first, filtered by device, status, creation and last change; cursor pages',
    description: 'A page holds at most `limit` commands and stops early at 4 MB of JSON.',
  })
  @ApiOkResponse({ type: CommandPageResponse })
  @ApiResponse({ status: 400, type: ProblemResponse, description: 'Invalid parameter' })
  @Header('content-type', JSON_BODY)
  async list(
    @Query(new QueryPipe(ListCommandsQuery)) query: ListCommandsQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ResponseBody> {
    const problem = combinationProblem(query);
    if (problem !== undefined) {
      throw new ValidationProblem([problem]);
    }
    return responses.within(reply.raw, () => this.commands.listJson(query));
  }
}
