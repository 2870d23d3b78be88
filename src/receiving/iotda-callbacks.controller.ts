import { Body, Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import {
  ApiBody,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiSecurity,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import { type FastifyRequest } from 'fastify';
import { withDeadline } from '../database/database-errors.js';
import { CallbackTokenGuard } from '../http/auth.guards.js';
import { ValidationProblem } from '../http/problem.js';
import { CommandMetrics } from '../metrics/command-metrics.js';
import { assertNever } from '../commands/command-status.js';
import { parseIotdaMessage } from './iotda-message.js';
import { CALLBACK_DEADLINE_MS } from './callbacks.controller.js';
import { CommandsService } from '../commands/commands.service.js';
import { CallbackAnswerDto } from '../commands/dto/command-status-callback.dto.js';
import { IgnoredAnswerDto, IotdaMessageDto } from './iotda-message.dto.js';
import { ApiStatusPushProblems } from '../commands/dto/command.response.js';

@ApiTags('callbacks')
@Controller('callbacks')
export class IotdaCallbacksController {
  constructor(
    private readonly commands: CommandsService,
    private readonly metrics: CommandMetrics,
  ) {}

  @Post('iotda')
  @HttpCode(200)
  @UseGuards(CallbackTokenGuard)
  @ApiOperation({
    summary: "Message of an IoTDA data-forwarding rule's HTTP action",
    description:
      'A `device.command.status` (or `device.commmad.status`) `update` is applied by the rank rule with source `iotda`, ' +
      'exactly as the legacy callback. Any other resource or event is answered `{"outcome":"ignored"}` and not stored.',
  })
  @ApiSecurity('callbackToken')
  @ApiQuery({ name: 'token', required: false, description: 'CALLBACK_TOKEN, if set' })
  @ApiExtraModels(CallbackAnswerDto, IgnoredAnswerDto)
  @ApiBody({
    type: IotdaMessageDto,
    examples: {
      successful: {
        summary: 'IoTDA reports SUCCESSFUL',
        value: {
          resource: 'device.command.status',
          event: 'update',
          event_time: '20261201T101500Z',
          notify_data: {
            header: { device_id: 'd-1', product_id: 'p-1', app_id: 'a-1' },
            body: {
              command_id: 'b1224afb-7d3e-4c5a-9c1e-0f3b2a6d8e11',
              status: 'SUCCESSFUL',
              result: { code: 200 },
            },
          },
        },
      },
    },
  })
  @ApiOkResponse({
    description: 'Stored (the outcome says what it did), or ignored (another resource or event)',
    schema: {
      oneOf: [
        { $ref: getSchemaPath(CallbackAnswerDto) },
        { $ref: getSchemaPath(IgnoredAnswerDto) },
      ],
    },
  })
  @ApiStatusPushProblems()
  async iotda(
    @Body() body: unknown,
    @Req() request: FastifyRequest,
  ): Promise<CallbackAnswerDto | IgnoredAnswerDto> {
    const message = parseIotdaMessage(body);
    switch (message.kind) {
      case 'invalid':
        throw new ValidationProblem(message.problems);
      case 'ignored':
        this.metrics.callbackIgnored();
        return { outcome: 'ignored' };
      case 'report': {
        const recorded = await withDeadline(
          this.commands.report({ ...message.report, payload: request.body, source: 'iotda' }),
          CALLBACK_DEADLINE_MS,
        );
        return {
          commandId: recorded.commandId,
          status: recorded.status,
          outcome: recorded.outcome,
        };
      }
      default:
        return assertNever(message);
    }
  }
}
