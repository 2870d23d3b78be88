import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommandNotFoundError } from '../commands/command-errors.js';
import { CommandsService, type RecordedReport } from '../commands/commands.service.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { type DispatchCommandDto } from './dispatch.dto.js';
import { type DispatchIntent, DispatchRepository } from './dispatch.repository.js';
import {
  PlatformAnswerLostError,
  type PlatformClient,
  type PlatformCommand,
  PlatformCommandNotFoundError,
  PlatformInvalidAnswerError,
  PlatformNotImplementedError,
  PlatformRefusedError,
  PlatformTimeoutError,
  PlatformUnreachableError,
} from './platform-client.js';
import { PlatformMetrics } from './platform-metrics.js';
import { PLATFORM_CLIENT, PlatformProblem } from './platform-problem.js';

/** An HTTP answer as sent (and, for dispatch, kept for a repeated Idempotency-Key). */
export interface Answer {
  status: number;
  /** JSON text: the command, or problem details when status >= 400. */
  body: string;
}

// How often a request that repeats an Idempotency-Key still in flight looks for its answer.
const IN_FLIGHT_POLL_MS = 50;
// After PLATFORM_TIMEOUT_MS plus this, a dispatch still 'calling' is taken as lost.
const STUCK_AFTER_MS = 5000;

/** Dispatch, cancel and on-demand reconcile: each asks the platform, then reports through the rule. */
@Injectable()
export class PlatformService {
  private readonly logger = new Logger(PlatformService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(PLATFORM_CLIENT) private readonly client: PlatformClient | null,
    private readonly intents: DispatchRepository,
    private readonly commands: CommandsService,
    private readonly metrics: PlatformMetrics,
  ) {}

  /**
   * Records the intent, then creates the command on the platform: so that a command the platform
   * created is always found again, through reconciliation when its answer is lost.
   */
  async dispatch(
    dto: DispatchCommandDto,
    idempotencyKey: string | undefined,
    requestId: string,
  ): Promise<Answer> {
    const client = this.requireClient();
    const request = {
      deviceId: dto.deviceId,
      serviceId: dto.serviceId,
      method: dto.method,
      paras: dto.paras,
      timeoutSeconds: dto.timeoutSeconds,
      sendStrategy: dto.sendStrategy ?? 'immediately',
    } as const;
    const requestHash = hashOf(request);
    const recorded = await this.intents.record({
      idempotencyKey: idempotencyKey ?? null,
      requestHash,
      deviceId: request.deviceId,
      serviceId: request.serviceId,
      method: request.method,
      paras: request.paras,
      timeoutSeconds: request.timeoutSeconds ?? null,
    });
    if (!recorded.created) {
      if (recorded.existing.requestHash !== requestHash) {
        throw new PlatformProblem(
          422,
          'This Idempotency-Key was used with another request body within 24 hours',
        );
      }
      return this.firstAnswer(recorded.existing);
    }
    const intentId = recorded.id;
    let command: PlatformCommand;
    try {
      command = await client.create(request);
    } catch (error) {
      const problem = this.problemOf(error, 'dispatch');
      const answer = { status: problem.status, body: JSON.stringify(problem.details(requestId)) };
      // An uncertain answer (504) may hide a command the platform created: reconciliation
      // searches for it, and the key answers 504 until it has settled.
      await this.intents.settle(
        intentId,
        problem.status === 504 ? 'lost' : 'refused',
        null,
        answer,
      );
      throw problem;
    }
    await this.commands.report({
      commandId: command.commandId,
      deviceId: request.deviceId,
      status: command.status,
      resultDetail: command.resultDetail,
      payload: command.record,
      source: 'dispatch',
      registration: {
        serviceId: request.serviceId,
        method: request.method,
        paras: request.paras,
        deadline: null,
        timeoutSeconds: request.timeoutSeconds ?? null,
      },
    });
    const answer = { status: 201, body: await this.commandText(command.commandId) };
    await this.intents.settle(intentId, 'created', command.commandId, answer);
    return answer;
  }

  /** Legacy only: cancels a PENDING command on the platform and reports CANCELED. */
  async cancel(commandId: string): Promise<string> {
    const client = this.requireClient();
    if (client.name !== 'oceanconnect') {
      throw new PlatformProblem(
        501,
        'Cancel needs the legacy platform: IoTDA has no cancel for asynchronous commands',
      );
    }
    const known = await this.intents.findCommand(commandId);
    if (known === undefined) {
      throw new CommandNotFoundError(commandId);
    }
    let command: PlatformCommand;
    try {
      command = await client.cancel({ commandId, deviceId: known.deviceId });
    } catch (error) {
      throw this.problemOf(error, 'cancel');
    }
    await this.commands.report({
      commandId,
      deviceId: known.deviceId,
      status: 'CANCELED',
      resultDetail: command.resultDetail,
      payload: command.record,
      source: 'dispatch',
    });
    return this.commandText(commandId);
  }

  /** Reads the command from the platform now and applies it by the rule (source reconcile). */
  async reconcile(commandId: string): Promise<string> {
    const client = this.requireClient();
    const known = await this.intents.findCommand(commandId);
    if (known === undefined) {
      throw new CommandNotFoundError(commandId);
    }
    let command: PlatformCommand | undefined;
    try {
      command = await client.show({ commandId, ...known });
    } catch (error) {
      throw this.problemOf(error, 'reconcile');
    }
    if (command === undefined) {
      throw this.problemOf(new PlatformCommandNotFoundError(commandId), 'reconcile');
    }
    await this.reportFound(command, known.deviceId);
    return this.commandText(commandId);
  }

  /** A status read from the platform, through the rule with source reconcile. */
  async reportFound(
    command: PlatformCommand,
    deviceId: string,
    intent?: DispatchIntent,
  ): Promise<RecordedReport> {
    const recorded = await this.commands.report({
      commandId: command.commandId,
      deviceId,
      status: command.status,
      resultDetail: command.resultDetail,
      payload: command.record,
      source: 'reconcile',
      ...(intent === undefined
        ? {}
        : {
            registration: {
              serviceId: intent.serviceId,
              method: intent.method,
              paras: intent.paras,
              deadline: null,
              timeoutSeconds: intent.timeoutSeconds,
            },
          }),
    });
    this.metrics.statusLearned(command.status, recorded.outcome);
    return recorded;
  }

  /** The command as GET /commands/{commandId} shows it. */
  commandJson(commandId: string): Promise<string> {
    return this.commandText(commandId);
  }

  /** The command as GET /commands/{id} shows it, as text: an answer kept for Idempotency-Key is text. */
  private async commandText(commandId: string): Promise<string> {
    const body = await this.commands.getJson(commandId);
    return typeof body === 'string' ? body : body.toString('utf8');
  }

  private requireClient(): PlatformClient {
    if (this.client === null) {
      throw new PlatformProblem(501, 'No platform is configured (PLATFORM is unset)');
    }
    return this.client;
  }

  /**
   * The answer of the request that first used this Idempotency-Key: waited for while it is in
   * flight; once it is stuck longer than the platform's timeout, taken as lost (504).
   */
  private async firstAnswer(intent: DispatchIntent): Promise<Answer> {
    const stuckAt = intent.createdAt.getTime() + this.config.platformTimeoutMs + STUCK_AFTER_MS;
    let current: DispatchIntent | undefined = intent;
    while (current !== undefined && current.answerStatus === null && Date.now() < stuckAt) {
      await sleep(IN_FLIGHT_POLL_MS);
      current = await this.intents.find(intent.id);
    }
    if (current?.state === 'created' && current.commandId !== null) {
      return {
        status: 201,
        body: current.answerBody ?? (await this.commandText(current.commandId)),
      };
    }
    if (
      current?.answerStatus !== null &&
      current?.answerStatus !== undefined &&
      current.answerBody !== null
    ) {
      return { status: current.answerStatus, body: current.answerBody };
    }
    throw new PlatformProblem(
      504,
      'The first request with this Idempotency-Key got no answer from the platform in time; reconciliation will find the command if it exists',
    );
  }

  private problemOf(error: unknown, action: 'dispatch' | 'cancel' | 'reconcile'): PlatformProblem {
    if (error instanceof PlatformRefusedError) {
      return new PlatformProblem(
        action === 'cancel' ? 409 : 502,
        action === 'cancel'
          ? 'The platform refused to cancel the command (it cancels only PENDING commands)'
          : 'The platform refused the request',
        { code: error.code, message: error.platformMessage },
      );
    }
    if (error instanceof PlatformInvalidAnswerError) {
      return new PlatformProblem(
        502,
        'The platform answered something this service does not accept',
        {
          code: 'INVALID_ANSWER',
          message: error.reason,
        },
      );
    }
    if (error instanceof PlatformAnswerLostError) {
      return new PlatformProblem(
        504,
        action === 'dispatch'
          ? `The platform's answer was lost (${error.reason}); whether the command exists is unknown, and reconciliation finds it if it does`
          : `The platform's answer was lost (${error.reason})`,
      );
    }
    if (error instanceof PlatformUnreachableError) {
      return new PlatformProblem(
        502,
        'The platform could not be reached or answered something unexpected',
        {
          code: 'UNREACHABLE',
          message: error.reason,
        },
      );
    }
    if (error instanceof PlatformTimeoutError) {
      return new PlatformProblem(
        504,
        action === 'dispatch'
          ? `The platform did not answer within ${error.timeoutMs} ms; whether the command exists is unknown, and reconciliation finds it if it does`
          : `The platform did not answer within ${error.timeoutMs} ms`,
      );
    }
    if (error instanceof PlatformCommandNotFoundError) {
      return new PlatformProblem(404, error.message);
    }
    if (error instanceof PlatformNotImplementedError) {
      return new PlatformProblem(501, error.message);
    }
    this.logger.error(
      { err: error instanceof Error ? error.message : String(error) },
      'Unexpected platform error',
    );
    return new PlatformProblem(502, 'The platform answered something unexpected', {
      code: 'UNEXPECTED',
      message: 'unexpected error',
    });
  }
}

/** A stable hash of a dispatch request: JSON with sorted keys. */
export function hashOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
