import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { type CommandStatus } from '../commands/command-status.js';
import { CommandsService } from '../commands/commands.service.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { DispatchRepository } from '../platform/dispatch.repository.js';
import { type DispatchRequest, type PlatformClient } from '../platform/platform-client.js';
import { PLATFORM_CLIENT } from '../platform/platform-problem.js';
import { hashOf } from '../platform/platform.service.js';
import { backoffMs, isRetried, outcomeOf } from './attempt-outcome.js';
import {
  type AttemptEnd,
  type Dispatch,
  DispatchQueueRepository,
} from './dispatch-queue.repository.js';
import { PollLoop } from '../scheduling/poll-loop.js';
import { SendingMetrics } from './sending-metrics.js';

// How often an idle instance looks for due dispatches.
const POLL_MS = 250;
// How often leases that ran out and dispatches past sendBy are looked for.
const SWEEP_MS = 2000;
// Platform calls one instance keeps in flight at most; a 20 s synchronous call holds one of them.
const MAX_IN_FLIGHT = 64;
// A lost attempt not settled yet is looked at again after this long.
const SETTLE_WAIT_MS = 2000;
// The platforms cache at most this many PENDING commands per device.
const PENDING_LIMIT = 20;
// A synchronous call waits this long at least (iotda.client's SYNC_TIMEOUT_MS) for the device.
const SYNC_CALL_SECONDS = 25;

/**
 * The queue's one loop per instance: claims due dispatches from the database (leased, SKIP
 * LOCKED, so each is attempted by one instance), sends each through the platform within the
 * budget DISPATCH_RATE shares across instances, and records the attempt. Nothing waits in memory:
 * what is not in flight stays a row.
 */
@Injectable()
export class DispatchSender implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(DispatchSender.name);
  private readonly inFlight = new Set<Promise<void>>();
  private readonly loop = new PollLoop(
    async () => ((await this.poll()) > 0 ? 0 : POLL_MS),
    (error) => {
      this.logger.warn({ err: describe(error) }, 'A dispatch poll failed; the next one runs later');
      return POLL_MS;
    },
  );
  private sweptAt = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(PLATFORM_CLIENT) private readonly client: PlatformClient | null,
    private readonly queue: DispatchQueueRepository,
    private readonly intents: DispatchRepository,
    private readonly commands: CommandsService,
    private readonly metrics: SendingMetrics,
  ) {}

  onApplicationBootstrap(): void {
    if (this.client !== null) {
      this.loop.start(0);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.loop.stop();
    await Promise.allSettled([...this.inFlight]);
  }

  /** One look at the queue: sweeps, then claims as many due dispatches as there is room for. */
  async poll(): Promise<number> {
    const client = this.client;
    if (client === null || this.loop.stopped) {
      return 0;
    }
    if (Date.now() - this.sweptAt >= SWEEP_MS) {
      this.sweptAt = Date.now();
      await this.queue.sweep();
    }
    // Tokens first, then as many rows: a claimed dispatch is attempted at once, well within its
    // lease, never left waiting for the budget while its lease runs out.
    const room = MAX_IN_FLIGHT - this.inFlight.size;
    if (room <= 0 || !(await this.queue.hasDue())) {
      return 0;
    }
    const tokens = await this.intents.takeCallTokens(this.config.dispatchRate, 'dispatch', room);
    if (tokens === 0) {
      return 0;
    }
    // A lease outlives its platform call's longest wait by DISPATCH_LEASE_MARGIN_SECONDS: so
    // long as the call may still answer, no other instance takes the dispatch up.
    const callSeconds = Math.ceil(this.config.platformTimeoutMs / 1000);
    const claimed = await this.queue.claim(
      tokens,
      this.config.dispatchDeviceConcurrency,
      PENDING_LIMIT,
      {
        async: callSeconds + this.config.dispatchLeaseMarginSeconds,
        sync: Math.max(callSeconds, SYNC_CALL_SECONDS) + this.config.dispatchLeaseMarginSeconds,
      },
    );
    if (claimed.length < tokens) {
      await this.intents.returnCallTokens(
        this.config.dispatchRate,
        'dispatch',
        tokens - claimed.length,
      );
    }
    for (const dispatch of claimed) {
      const attempt = this.attempt(client, dispatch)
        .catch((error: unknown) => {
          // The lease runs out and the sweep takes the dispatch up again.
          this.logger.warn(
            { err: describe(error), dispatchId: dispatch.dispatchId },
            'A dispatch attempt failed',
          );
        })
        .finally(() => this.inFlight.delete(attempt));
      this.inFlight.add(attempt);
    }
    return claimed.length;
  }

  private async attempt(client: PlatformClient, dispatch: Dispatch): Promise<void> {
    if (dispatch.intentId !== null) {
      const settled = await this.settledLostAttempt(dispatch.intentId);
      if (settled.kind !== 'resend') {
        await this.queue.end(dispatch.dispatchId, settled);
        return;
      }
    }
    if (dispatch.sendBy.getTime() <= Date.now()) {
      await this.queue.end(dispatch.dispatchId, {
        kind: 'closed',
        state: 'expired',
        attempt: null,
      });
      return;
    }
    const request: DispatchRequest = {
      deviceId: dispatch.deviceId,
      serviceId: dispatch.serviceId,
      method: dispatch.method,
      paras: dispatch.paras,
      timeoutSeconds: dispatch.timeoutSeconds ?? undefined,
      sendStrategy: dispatch.sendStrategy,
    };
    const end =
      dispatch.mode === 'sync' && client.createSync !== undefined
        ? await this.sendSync(client, dispatch, request)
        : await this.sendAsync(client, dispatch, request);
    if ('attempt' in end && end.attempt !== null) {
      this.metrics.attempted(end.attempt.outcome);
    }
    await this.queue.end(dispatch.dispatchId, end);
  }

  /** What a lost attempt's intent says now: sent, wait for reconciliation, or send again. */
  private async settledLostAttempt(intentId: string): Promise<AttemptEnd | { kind: 'resend' }> {
    const intent = await this.intents.find(intentId);
    switch (intent?.state) {
      case 'created':
        return { kind: 'sent', commandId: intent.commandId ?? '', attempt: null };
      case 'calling':
      case 'lost':
        return { kind: 'wait', at: new Date(Date.now() + SETTLE_WAIT_MS) };
      case 'abandoned':
        // Never found, never known not to exist: sending again could make a second command.
        return { kind: 'closed', state: 'failed', attempt: null };
      case 'refused':
      case undefined:
        return { kind: 'resend' };
    }
  }

  /** CreateAsyncCommand (or the legacy create), recorded as an intent first, as dispatch does. */
  private async sendAsync(
    client: PlatformClient,
    dispatch: Dispatch,
    request: DispatchRequest,
  ): Promise<AttemptEnd> {
    const recorded = await this.intents.record({
      idempotencyKey: null,
      requestHash: hashOf(request),
      deviceId: request.deviceId,
      serviceId: request.serviceId,
      method: request.method,
      paras: request.paras,
      timeoutSeconds: request.timeoutSeconds ?? null,
    });
    if (!recorded.created) {
      throw new Error('an intent without Idempotency-Key is always recorded');
    }
    await this.queue.callStarting(dispatch.dispatchId, recorded.id);
    try {
      const command = await client.create(request);
      await this.commands.report({
        commandId: command.commandId,
        deviceId: request.deviceId,
        status: command.status,
        resultDetail: command.resultDetail,
        payload: command.record,
        source: 'dispatch',
        registration: this.registration(dispatch),
      });
      await this.intents.settle(recorded.id, 'created', command.commandId);
      return { kind: 'sent', commandId: command.commandId, attempt: sentAttempt() };
    } catch (error) {
      const failed = outcomeOf(error);
      await this.intents.settle(recorded.id, failed.outcome === 'lost' ? 'lost' : 'refused', null);
      return this.failedEnd(dispatch, failed);
    }
  }

  /** CreateCommand: the whole lifecycle in one answer, reported as SENT then the result. */
  private async sendSync(
    client: PlatformClient,
    dispatch: Dispatch,
    request: DispatchRequest,
  ): Promise<AttemptEnd> {
    await this.queue.callStarting(dispatch.dispatchId, null);
    let answer;
    try {
      answer = await client.createSync!(request);
    } catch (error) {
      const failed = outcomeOf(error);
      // A synchronous command cannot be searched for: a lost one is never sent again.
      return failed.outcome === 'lost'
        ? { kind: 'closed', state: 'failed', attempt: attemptOf(failed) }
        : this.failedEnd(dispatch, failed);
    }
    const commandId =
      answer.kind === 'answered' ? (answer.commandId ?? dispatch.dispatchId) : dispatch.dispatchId;
    const final: CommandStatus =
      answer.kind === 'timeout' ? 'TIMEOUT' : succeeded(answer.response) ? 'SUCCESSFUL' : 'FAILED';
    for (const status of ['SENT', final] as const) {
      await this.commands.report({
        commandId,
        deviceId: request.deviceId,
        status,
        resultDetail: status === 'SENT' || answer.kind === 'timeout' ? null : answer.response,
        payload: answer.record,
        source: 'dispatch',
        registration: this.registration(dispatch),
      });
    }
    return { kind: 'sent', commandId, attempt: sentAttempt() };
  }

  private failedEnd(dispatch: Dispatch, failed: ReturnType<typeof outcomeOf>): AttemptEnd {
    const attempt = attemptOf(failed);
    if (failed.outcome === 'lost') {
      return { kind: 'lost', at: new Date(Date.now() + SETTLE_WAIT_MS), attempt };
    }
    const made = dispatch.attempts.length + 1;
    if (!isRetried(failed.outcome) || made >= this.config.dispatchMaxAttempts) {
      return { kind: 'closed', state: 'failed', attempt };
    }
    const at = new Date(
      Date.now() +
        backoffMs(made, this.config.dispatchRetryBaseSeconds, this.config.dispatchRetryMaxSeconds),
    );
    return at >= dispatch.sendBy
      ? { kind: 'closed', state: 'expired', attempt }
      : { kind: 'retry', at, attempt };
  }

  private registration(dispatch: Dispatch) {
    return {
      serviceId: dispatch.serviceId,
      method: dispatch.method,
      paras: dispatch.paras,
      deadline: null,
      timeoutSeconds: dispatch.timeoutSeconds,
    };
  }
}

function sentAttempt() {
  return { at: new Date().toISOString(), outcome: 'sent' as const };
}

function attemptOf(failed: ReturnType<typeof outcomeOf>) {
  return {
    at: new Date().toISOString(),
    outcome: failed.outcome,
    ...(failed.platformError === undefined ? {} : { platformError: failed.platformError }),
  };
}

/** A device's answer succeeded when its result_code is 0 or absent. */
function succeeded(response: unknown): boolean {
  if (typeof response !== 'object' || response === null) {
    return true;
  }
  const code = (response as { result_code?: unknown }).result_code;
  return code === undefined || code === null || code === 0 || code === '0';
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
