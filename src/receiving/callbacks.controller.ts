import { Body, Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import {
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { type FastifyRequest } from 'fastify';
import { withDeadline } from '../database/database-errors.js';
import { CallbackTokenGuard } from '../http/auth.guards.js';
import { ApiStatusPushProblems } from '../commands/dto/command.response.js';
import { BodyPipe } from '../http/validation.js';
import {
  CallbackAnswerDto,
  CommandStatusCallbackDto,
  legacyStatus,
} from '../commands/dto/command-status-callback.dto.js';
import { CommandsService } from '../commands/commands.service.js';

// docs/api.md: a push we could not store is answered 503 within 5 s (the platform waits 15 s).
export const CALLBACK_DEADLINE_MS = 4500;

@ApiTags('callbacks')
@Controller('callbacks')
export class CallbacksController {
  constructor(private readonly commands: CommandsService) {}

  @Post('command-status')
  @HttpCode(200)
  @UseGuards(CallbackTokenGuard)
  @ApiOperation({
    summary: 'Status push from the IoT platform (the callbackUrl)',
    description:
      'Applies the reported status by the rank rule and appends it to the history. A command not seen before is created.',
  })
  @ApiSecurity('callbackToken')
  @ApiQuery({ name: 'token', required: false, description: 'CALLBACK_TOKEN, if set' })
  @ApiBody({
    type: CommandStatusCallbackDto,
    examples: {
      sent: {
        summary: 'The platform reports SENT',
        value: {
          deviceId: '92d3f8da-200a-4143-8d0d-591a7e11de6c',
          commandId: '108a9c71462a48e09426e06e844d47ba',
          result: { resultCode: 'SENT', resultDetail: null },
        },
      },
    },
  })
  @ApiOkResponse({ type: CallbackAnswerDto, description: 'Stored; the outcome says what it did' })
  @ApiStatusPushProblems()
  async commandStatus(
    @Body(new BodyPipe(CommandStatusCallbackDto)) callback: CommandStatusCallbackDto,
    @Req() request: FastifyRequest,
  ): Promise<CallbackAnswerDto> {
    const recorded = await withDeadline(
      this.commands.report({
        commandId: callback.commandId,
        deviceId: callback.deviceId,
        status: legacyStatus(callback.result.resultCode),
        resultDetail: callback.result.resultDetail,
        payload: request.body,
        source: 'callback',
      }),
      CALLBACK_DEADLINE_MS,
    );
    return { commandId: recorded.commandId, status: recorded.status, outcome: recorded.outcome };
  }
}
