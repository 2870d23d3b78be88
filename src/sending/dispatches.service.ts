import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { IdempotencyKeyReusedError } from '../http/idempotency-key.js';
import { ValidationProblem } from '../http/problem.js';
import { type PlatformClient, configuredClient } from '../platform/platform-client.js';
import { PLATFORM_CLIENT } from '../platform/platform-problem.js';
import { hashOf } from '../platform/platform.service.js';
import { type Dispatch, DispatchQueueRepository } from './dispatch-queue.repository.js';
import { type ListDispatchesQuery, type QueueDispatchDto, encodeCursor } from './dispatches.dto.js';
import { DispatchNotFoundError, DispatchNotQueuedError } from './sending-errors.js';

// Without timeoutSeconds, a dispatch may wait this long to be sent (the platform's longest cache).
const DEFAULT_SEND_WITHIN_MS = 48 * 3600 * 1000;

/** A dispatch as the API shows it. */
export interface DispatchJson {
  dispatchId: string;
  deviceId: string;
  serviceId: string;
  method: string;
  paras: Record<string, unknown>;
  mode: string;
  state: string;
  replaceKey: string | null;
  campaignId: string | null;
  notBefore: string;
  sendBy: string;
  nextAttemptAt: string;
  commandId: string | null;
  attempts: Dispatch['attempts'];
  createdAt: string;
  updatedAt: string;
}

/** /dispatches: queues, shows, lists and cancels dispatches; DispatchSender sends them. */
@Injectable()
export class DispatchesService {
  constructor(
    @Inject(PLATFORM_CLIENT) private readonly client: PlatformClient | null,
    private readonly queue: DispatchQueueRepository,
  ) {}

  async enqueue(dto: QueueDispatchDto, idempotencyKey: string | undefined): Promise<DispatchJson> {
    const client = configuredClient(this.client);
    if (dto.mode === 'sync' && client.createSync === undefined) {
      throw ValidationProblem.of('mode', 'sync needs IoTDA (PLATFORM=iotda)');
    }
    const now = Date.now();
    const notBefore = dto.notBefore ?? new Date(now);
    const sendBy =
      dto.sendBy ??
      new Date(
        now +
          (dto.timeoutSeconds === undefined ? DEFAULT_SEND_WITHIN_MS : dto.timeoutSeconds * 1000),
      );
    if (sendBy <= notBefore) {
      throw ValidationProblem.of('sendBy', 'must be after notBefore');
    }
    const requestHash = hashOf({
      ...dto,
      notBefore: dto.notBefore?.toISOString(),
      sendBy: dto.sendBy?.toISOString(),
    });
    for (;;) {
      const result = await this.queue.enqueue({
        dispatchId: randomUUID(),
        idempotencyKey: idempotencyKey ?? null,
        requestHash,
        deviceId: dto.deviceId,
        serviceId: dto.serviceId,
        method: dto.method,
        paras: dto.paras,
        timeoutSeconds: dto.timeoutSeconds ?? null,
        sendStrategy: dto.sendStrategy ?? 'immediately',
        mode: dto.mode,
        replaceKey: dto.replaceKey ?? null,
        notBefore,
        sendBy,
      });
      // Undefined: the key's holder went meanwhile; try again.
      if (result === undefined) {
        continue;
      }
      if (!result.created && result.dispatch.requestHash !== requestHash) {
        throw new IdempotencyKeyReusedError();
      }
      return toJson(result.dispatch);
    }
  }

  async get(dispatchId: string): Promise<DispatchJson> {
    const dispatch = await this.queue.find(dispatchId);
    if (dispatch === undefined) {
      throw new DispatchNotFoundError(dispatchId);
    }
    return toJson(dispatch);
  }

  async list(
    query: ListDispatchesQuery,
  ): Promise<{ items: DispatchJson[]; nextCursor: string | null }> {
    const page = await this.queue.list({
      deviceId: query.deviceId,
      states: query.state,
      campaignId: query.campaignId,
      cursor: query.cursor,
      limit: query.limit + 1,
    });
    const items = page.slice(0, query.limit);
    const last = items.at(-1);
    return {
      items: items.map(toJson),
      nextCursor:
        page.length > query.limit && last !== undefined
          ? encodeCursor({ createdAt: last.createdAt, dispatchId: last.dispatchId })
          : null,
    };
  }

  async cancel(dispatchId: string): Promise<DispatchJson> {
    const result = await this.queue.cancel(dispatchId);
    if (result === undefined) {
      throw new DispatchNotFoundError(dispatchId);
    }
    if (!result.canceled) {
      throw new DispatchNotQueuedError(result.dispatch.state);
    }
    return toJson(result.dispatch);
  }
}

function toJson(dispatch: Dispatch): DispatchJson {
  return {
    dispatchId: dispatch.dispatchId,
    deviceId: dispatch.deviceId,
    serviceId: dispatch.serviceId,
    method: dispatch.method,
    paras: dispatch.paras,
    mode: dispatch.mode,
    state: dispatch.state,
    replaceKey: dispatch.replaceKey,
    campaignId: dispatch.campaignId,
    notBefore: dispatch.notBefore.toISOString(),
    sendBy: dispatch.sendBy.toISOString(),
    nextAttemptAt: dispatch.nextAttemptAt.toISOString(),
    commandId: dispatch.commandId,
    attempts: dispatch.attempts,
    createdAt: dispatch.createdAt.toISOString(),
    updatedAt: dispatch.updatedAt.toISOString(),
  };
}
