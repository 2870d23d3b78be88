import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { CommandNotFoundError } from '../commands/command-errors.js';
import { CommandsService, type RecordedReport } from '../commands/commands.service.js';
import { IdempotencyKeyReusedError } from '../http/idempotency-key.js';
import { type DispatchCommandDto } from './dispatch.dto.js';
import { type DispatchOutcome, intentStateOf } from './dispatch-outcome.js';
import {
  type DispatchIntent,
  DispatchRepository,
  IDEMPOTENCY_HOURS,
} from './dispatch.repository.js';
import {
  type PlatformClient,
  type PlatformCommand,
  PlatformCommandNotFoundError,
  PlatformNotImplementedError,
  configuredClient,
  isUncertain,
} from './platform-client.js';
import { PlatformMetrics } from './platform-metrics.js';
import { PLATFORM_CLIENT } from './platform-problem.js';

/** What a dispatch did: a new dispatch's outcome, or the first request of its Idempotency-Key. */
export type Dispatched =
  (DispatchOutcome & { intentId: string }) | { kind: 'repeated'; intent: DispatchIntent };

/** What asking the platform about a tracked command did: its answer applied by the rule, or not. */
export type CommandCall =
  { kind: 'applied'; commandId: string } | { kind: 'failed'; error: unknown };

/**
 * Dispatch, cancel and on-demand reconcile: each asks the platform, then reports through the
 * rule, and says what happened in the domain's words (PlatformAnswers makes the HTTP answers).
 */
@Injectable()
export class PlatformService {
  constructor(
    @Inject(PLATFORM_CLIENT) private readonly client: PlatformClient | null,
    private readonly intents: DispatchRepository,
    private readonly commands: CommandsService,
    private readonly metrics: PlatformMetrics,
  ) {}

  /**
   * Records the intent, then creates the command on the platform: so that a command the platform
   * created is always found again, through reconciliation when its answer is lost.
   */
  async dispatch(dto: DispatchCommandDto, idempotencyKey: string | undefined): Promise<Dispatched> {
    const client = configuredClient(this.client);
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
        throw new IdempotencyKeyReusedError(IDEMPOTENCY_HOURS);
      }
      return { kind: 'repeated', intent: recorded.existing };
    }
    const intentId = recorded.id;
    let command: PlatformCommand;
    try {
      command = await client.create(request);
    } catch (error) {
      // An uncertain answer may hide a command the platform created: the intent is lost, and
      // reconciliation searches for it.
      const outcome: DispatchOutcome = isUncertain(error)
        ? { kind: 'uncertain', error }
        : { kind: 'refused', error };
      await this.intents.settle(intentId, intentStateOf(outcome), null);
      return { ...outcome, intentId };
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
    await this.intents.settle(intentId, 'created', command.commandId);
    return { kind: 'created', commandId: command.commandId, intentId };
  }

  /** Legacy only: cancels a PENDING command on the platform and reports CANCELED. */
  async cancel(commandId: string): Promise<CommandCall> {
    const client = configuredClient(this.client);
    if (client.name !== 'oceanconnect') {
      throw new PlatformNotImplementedError(
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
      return { kind: 'failed', error };
    }
    await this.commands.report({
      commandId,
      deviceId: known.deviceId,
      status: 'CANCELED',
      resultDetail: command.resultDetail,
      payload: command.record,
      source: 'dispatch',
    });
    return { kind: 'applied', commandId };
  }

  /** Reads the command from the platform now and applies it by the rule (source reconcile). */
  async reconcile(commandId: string): Promise<CommandCall> {
    const client = configuredClient(this.client);
    const known = await this.intents.findCommand(commandId);
    if (known === undefined) {
      throw new CommandNotFoundError(commandId);
    }
    let command: PlatformCommand | undefined;
    try {
      command = await client.show({ commandId, ...known });
    } catch (error) {
      return { kind: 'failed', error };
    }
    if (command === undefined) {
      return { kind: 'failed', error: new PlatformCommandNotFoundError(commandId) };
    }
    await this.reportFound(command, known.deviceId);
    return { kind: 'applied', commandId };
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
