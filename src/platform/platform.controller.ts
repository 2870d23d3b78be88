import {
  Body,
  Controller,
  Headers,
  HttpCode,
  Param,
  Post,
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
import { CommandWithHistoryResponse, ProblemResponse } from '../commands/dto/command.response.js';
import { ApiKeyGuard } from '../http/auth.guards.js';
import { ApiIdempotencyKey, idempotencyKeyOf } from '../http/idempotency-key.js';
import { identifierProblem } from '../http/json-checks.js';
import { PROBLEM_CONTENT_TYPE, ValidationProblem } from '../http/problem.js';
import { DispatchCommandDto } from './dispatch.dto.js';
import { BodyPipe } from '../http/validation.js';
import { PlatformAnswers } from './platform-answers.js';
import { PlatformService } from './platform.service.js';

const JSON_BODY = 'application/json; charset=utf-8';
@ApiTags('platform')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@ApiResponse({ status: 401, type: ProblemResponse, description: 'API_KEYS set and no valid key' })
@ApiResponse({
  status: 501,
  type: ProblemResponse,
  description: 'No platform configured (PLATFORM)',
})
@ApiResponse({ status: 503, type: ProblemResponse, description: 'The database is unavailable' })
@Controller('commands')
export class PlatformController {
  constructor(
    private readonly platform: PlatformService,
    private readonly answers: PlatformAnswers,
  ) {}

  @Post('dispatch')
  @ApiBody({ type: DispatchCommandDto })
  @ApiOperation({ summary: 'Send a command to a device through the platform, and track it' })
  @ApiIdempotencyKey('kept 24 h')
  @ApiCreatedResponse({
    type: CommandWithHistoryResponse,
    description: 'Created on the platform; tracked',
  })
  @ApiResponse({ status: 400, type: ProblemResponse, description: 'Invalid body; nothing stored' })
  @ApiResponse({
    status: 422,
    type: ProblemResponse,
    description: 'Idempotency-Key reused with another body',
  })
  @ApiResponse({
    status: 502,
    type: ProblemResponse,
    description: 'The platform refused (platformError)',
  })
  @ApiResponse({
    status: 504,
    type: ProblemResponse,
    description: 'No answer in time; reconciliation finds the command',
  })
  async dispatch(
    @Body(new BodyPipe(DispatchCommandDto)) dto: DispatchCommandDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const dispatched = await this.platform.dispatch(dto, idempotencyKeyOf(idempotencyKey));
    const answer = await this.answers.forDispatch(dispatched, request.id);
    await reply
      .status(answer.status)
      .header('content-type', answer.status >= 400 ? PROBLEM_CONTENT_TYPE : JSON_BODY)
      .send(answer.body);
  }

  @Post(':commandId/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a PENDING command on the legacy platform' })
  @ApiParam({ name: 'commandId', example: '108a9c71462a48e09426e06e844d47ba' })
  @ApiOkResponse({
    type: CommandWithHistoryResponse,
    description: 'Canceled; CANCELED went through the rule',
  })
  @ApiResponse({ status: 404, type: ProblemResponse, description: 'Unknown command' })
  @ApiResponse({
    status: 409,
    type: ProblemResponse,
    description: 'The platform refused (platformError)',
  })
  @ApiResponse({
    status: 502,
    type: ProblemResponse,
    description: 'The platform could not be reached',
  })
  @ApiResponse({ status: 504, type: ProblemResponse, description: 'No answer in time' })
  async cancel(
    @Param('commandId') commandId: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    checkCommandId(commandId);
    const body = await this.answers.forCommand(await this.platform.cancel(commandId), 'cancel');
    void reply.header('content-type', JSON_BODY);
    return body;
  }

  @Post(':commandId/reconcile')
  @HttpCode(200)
  @ApiOperation({
    summary: "Read the command's status from the platform now and apply it by the rule",
  })
  @ApiParam({ name: 'commandId', example: '108a9c71462a48e09426e06e844d47ba' })
  @ApiOkResponse({ type: CommandWithHistoryResponse })
  @ApiResponse({
    status: 404,
    type: ProblemResponse,
    description: 'Unknown here or on the platform',
  })
  @ApiResponse({
    status: 502,
    type: ProblemResponse,
    description: 'The platform refused (platformError)',
  })
  @ApiResponse({ status: 504, type: ProblemResponse, description: 'No answer in time' })
  async reconcile(
    @Param('commandId') commandId: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    checkCommandId(commandId);
    const body = await this.answers.forCommand(
      await this.platform.reconcile(commandId),
      'reconcile',
    );
    void reply.header('content-type', JSON_BODY);
    return body;
  }
}

function checkCommandId(commandId: string): void {
  const problem = identifierProblem(commandId);
  if (problem !== undefined) {
    throw ValidationProblem.of('commandId', problem);
  }
}
