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
} from '@nestjs/swagger';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { ApiKeyGuard } from '../http/auth.guards.js';
import { identifierProblem } from '../http/json-checks.js';
import { ValidationProblem } from '../http/problem.js';
import { parseInstant } from '../http/validators.js';
import { CommandsService } from './commands.service.js';
import {
  CommandPageResponse,
  CommandWithHistoryResponse,
  ProblemResponse,
} from './dto/command.response.js';
import { ListCommandsQuery } from './dto/list-commands.query.js';
import { RegisterCommandDto } from './dto/register-command.dto.js';

// Bodies come from PostgreSQL as JSON text (see commands.repository.ts) and are sent as they are.
const JSON_BODY = 'application/json; charset=utf-8';

@ApiTags('commands')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@ApiResponse({ status: 401, type: ProblemResponse, description: 'API_KEYS set and no valid key' })
@Controller('commands')
export class CommandsController {
  constructor(private readonly commands: CommandsService) {}

  @Post()
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
    @Body() dto: RegisterCommandDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
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
        deadline: deadline === null ? null : (parseInstant(deadline) ?? null),
        timeoutSeconds,
      },
    });
    void reply.status(recorded.created ? 201 : 200);
    return this.commands.getJson(dto.commandId);
  }

  @Get(':commandId')
  @ApiOperation({ summary: 'A command with its whole history, oldest first' })
  @ApiParam({ name: 'commandId', example: '108a9c71462a48e09426e06e844d47ba' })
  @ApiOkResponse({ type: CommandWithHistoryResponse })
  @ApiResponse({ status: 404, type: ProblemResponse, description: 'Unknown command' })
  @Header('content-type', JSON_BODY)
  async get(@Param('commandId') commandId: string): Promise<string> {
    const problem = identifierProblem(commandId);
    if (problem !== undefined) {
      throw ValidationProblem.of('commandId', problem);
    }
    return this.commands.getJson(commandId);
  }

  @Get()
  @ApiOperation({
    summary: 'Commands, newest first, filtered by device, status and creation time; cursor pages',
  })
  @ApiOkResponse({ type: CommandPageResponse })
  @ApiResponse({ status: 400, type: ProblemResponse, description: 'Invalid parameter' })
  @Header('content-type', JSON_BODY)
  async list(@Query() query: ListCommandsQuery): Promise<string> {
    return this.commands.listJson(query);
  }
}
