import { Inject, Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommandsService } from '../commands/commands.service.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { type DispatchOutcome, intentStateOf } from './dispatch-outcome.js';
import { type DispatchIntent, DispatchRepository } from './dispatch.repository.js';
import { PlatformProblem, platformProblem } from './platform-problem.js';
import { type CommandCall, type Dispatched } from './platform.service.js';

/** An HTTP answer as sent (and, for dispatch, kept for a repeated Idempotency-Key). */
export interface Answer {
  status: number;
  /** JSON text: the command, or problem details when status >= 400. */
  body: string;
}

// How often a request that repeats an Idempotency-Key still in flight looks for its answer.
const IN_FLIGHT_POLL_MS = 50;
// After PLATFORM_TIMEOUT_MS plus this, a dispatch still without an answer is taken as lost.
const STUCK_AFTER_MS = 5000;

/**
 * The HTTP answers of the platform endpoints, made from PlatformService's outcomes: the command as
 * GET /commands/{id} shows it, or problem details. A dispatch's answer is kept on its intent, and
 * a repeated Idempotency-Key gets that text again.
 */
@Injectable()
export class PlatformAnswers {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly intents: DispatchRepository,
    private readonly commands: CommandsService,
  ) {}

  /** The answer to POST /commands/dispatch; a new dispatch's problem details are thrown once kept. */
  async forDispatch(dispatched: Dispatched, requestId: string): Promise<Answer> {
    if (dispatched.kind === 'repeated') {
      return this.firstAnswer(dispatched.intent);
    }
    const { answer, problem } = await this.keep(dispatched.intentId, dispatched, requestId);
    if (problem !== undefined) {
      // Thrown, to be answered and logged as every problem is; the key gives the same text again.
      throw problem;
    }
    return answer;
  }

  /** Keeps the answer of a dispatch reconciliation settled: no request asked, so it names the intent. */
  async keepSettled(intentId: string, outcome: DispatchOutcome): Promise<void> {
    await this.keep(intentId, outcome, `intent-${intentId}`);
  }

  /** The answer to cancel or reconcile: the command, or the platform's failure as problem details. */
  async forCommand(call: CommandCall, action: 'cancel' | 'reconcile'): Promise<string> {
    if (call.kind === 'failed') {
      throw platformProblem(call.error, action);
    }
    return this.commandText(call.commandId);
  }

  /** A settled dispatch's answer, kept unless the intent has left the state it settled in. */
  private async keep(
    intentId: string,
    outcome: DispatchOutcome,
    requestId: string,
  ): Promise<{ answer: Answer; problem?: PlatformProblem }> {
    const kept =
      outcome.kind === 'created'
        ? { answer: { status: 201, body: await this.commandText(outcome.commandId) } }
        : answerOf(dispatchProblem(outcome), requestId);
    await this.intents.keepAnswer(intentId, intentStateOf(outcome), kept.answer);
    return kept;
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

  /** The command as GET /commands/{id} shows it, as text: an answer kept for Idempotency-Key is text. */
  private async commandText(commandId: string): Promise<string> {
    const body = await this.commands.getJson(commandId);
    return typeof body === 'string' ? body : body.toString('utf8');
  }
}

/** A dispatch that made no command, or may have made one, as problem details. */
function dispatchProblem(outcome: Exclude<DispatchOutcome, { kind: 'created' }>): PlatformProblem {
  switch (outcome.kind) {
    case 'refused':
    case 'uncertain':
      return platformProblem(outcome.error, 'dispatch');
    case 'not-created':
      return new PlatformProblem(
        502,
        "The platform's answer to this dispatch was lost, and the platform has no such command",
        { code: 'NOT_CREATED', message: 'the platform has no command for this dispatch' },
      );
  }
}

function answerOf(
  problem: PlatformProblem,
  requestId: string,
): { answer: Answer; problem: PlatformProblem } {
  return {
    answer: { status: problem.status, body: JSON.stringify(problem.details(requestId)) },
    problem,
  };
}
