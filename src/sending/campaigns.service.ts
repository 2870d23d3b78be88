import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { IdempotencyKeyReusedError } from '../http/idempotency-key.js';
import { ValidationProblem } from '../http/problem.js';
import { type PlatformClient, configuredClient } from '../platform/platform-client.js';
import { PLATFORM_CLIENT } from '../platform/platform-problem.js';
import { hashOf } from '../platform/platform.service.js';
import {
  type CreateCampaignDto,
  type ListCampaignsQuery,
  encodeCampaignCursor,
} from './campaigns.dto.js';
import { CampaignsRepository } from './campaigns.repository.js';
import { type CampaignRow } from './campaigns.sql.js';
import { DISPATCH_STATES } from './dispatches.dto.js';
import { CampaignNotFoundError, CampaignStateError } from './sending-errors.js';
import { COMMAND_STATUSES } from '../commands/command-status.js';

// Without endAt, a campaign's dispatch may wait this long to be sent.
const DEFAULT_CAMPAIGN_WINDOW_MS = 365 * 24 * 3600 * 1000;

/** A campaign as the API shows it. */
export interface CampaignJson {
  campaignId: string;
  name: string;
  state: string;
  command: Record<string, unknown>;
  ratePerMinute: number;
  canary: CampaignRow['canary'];
  abort: CampaignRow['abort'];
  startAt: string | null;
  endAt: string | null;
  createdAt: string;
  updatedAt: string;
  devices: number;
  dispatches: Record<string, number>;
  commands: Record<string, number>;
  abortReason: string | null;
}

/** /campaigns: creates campaigns and moves them between states; CampaignReleaser paces them. */
@Injectable()
export class CampaignsService {
  constructor(
    @Inject(PLATFORM_CLIENT) private readonly client: PlatformClient | null,
    private readonly campaigns: CampaignsRepository,
  ) {}

  async create(dto: CreateCampaignDto, idempotencyKey: string | undefined): Promise<CampaignJson> {
    const client = configuredClient(this.client);
    if (dto.command.mode === 'sync' && client.createSync === undefined) {
      throw ValidationProblem.of('command.mode', 'sync needs IoTDA (PLATFORM=iotda)');
    }
    const now = Date.now();
    const notBefore = dto.startAt ?? new Date(now);
    if (dto.endAt !== undefined && dto.endAt <= notBefore) {
      throw ValidationProblem.of('endAt', 'must be after startAt and after now');
    }
    if (dto.canary !== undefined && dto.canary.devices > dto.devices.length) {
      throw ValidationProblem.of('canary.devices', 'must be at most the number of devices');
    }
    const requestHash = hashOf({
      ...dto,
      startAt: dto.startAt?.toISOString(),
      endAt: dto.endAt?.toISOString(),
    });
    for (;;) {
      const result = await this.campaigns.create({
        campaignId: randomUUID(),
        idempotencyKey: idempotencyKey ?? null,
        requestHash,
        name: dto.name,
        command: {
          serviceId: dto.command.serviceId,
          method: dto.command.method,
          paras: dto.command.paras,
          mode: dto.command.mode,
          timeoutSeconds: dto.command.timeoutSeconds ?? null,
        },
        devices: dto.devices,
        ratePerMinute: dto.ratePerMinute,
        canary: dto.canary ?? null,
        abort: dto.abort ?? null,
        startAt: dto.startAt ?? null,
        endAt: dto.endAt ?? null,
        notBefore,
        sendBy: dto.endAt ?? new Date(notBefore.getTime() + DEFAULT_CAMPAIGN_WINDOW_MS),
      });
      // Undefined: the key's holder went meanwhile; try again.
      if (result === undefined) {
        continue;
      }
      if (!result.created && result.campaign.request_hash !== requestHash) {
        throw new IdempotencyKeyReusedError();
      }
      return toJson(result.campaign);
    }
  }

  async get(campaignId: string): Promise<CampaignJson> {
    return toJson(await this.found(campaignId));
  }

  async list(
    query: ListCampaignsQuery,
  ): Promise<{ items: CampaignJson[]; nextCursor: string | null }> {
    const page = await this.campaigns.list({
      state: query.state,
      cursor: query.cursor,
      limit: query.limit + 1,
    });
    const items = page.slice(0, query.limit);
    const last = items.at(-1);
    return {
      items: items.map(toJson),
      nextCursor:
        page.length > query.limit && last !== undefined
          ? encodeCampaignCursor({ createdAt: last.created_at, campaignId: last.campaign_id })
          : null,
    };
  }

  async pause(campaignId: string): Promise<CampaignJson> {
    return this.transition(campaignId, 'paused', () => this.campaigns.pause(campaignId));
  }

  async resume(campaignId: string): Promise<CampaignJson> {
    return this.transition(campaignId, 'resumed', () => this.campaigns.resume(campaignId));
  }

  async cancel(campaignId: string): Promise<CampaignJson> {
    return this.transition(campaignId, 'canceled', () =>
      this.campaigns.close(campaignId, ['scheduled', 'running', 'paused'], 'canceled', null),
    );
  }

  async retryFailed(campaignId: string): Promise<CampaignJson> {
    const campaign = await this.found(campaignId);
    if (campaign.state === 'canceled') {
      throw new CampaignStateError(campaign.state);
    }
    const sendBy = campaign.end_at ?? new Date(Date.now() + DEFAULT_CAMPAIGN_WINDOW_MS);
    await this.campaigns.retryFailed(campaignId, sendBy);
    return this.get(campaignId);
  }

  private async transition(
    campaignId: string,
    verb: string,
    change: () => Promise<boolean>,
  ): Promise<CampaignJson> {
    if (!(await change())) {
      const current = await this.found(campaignId);
      throw new CampaignStateError(current.state, verb);
    }
    return this.get(campaignId);
  }

  private async found(campaignId: string): Promise<CampaignRow> {
    const campaign = await this.campaigns.find(campaignId);
    if (campaign === undefined) {
      throw new CampaignNotFoundError(campaignId);
    }
    return campaign;
  }
}

export function toJson(row: CampaignRow): CampaignJson {
  const dispatches = Object.fromEntries(DISPATCH_STATES.map((state) => [state, 0]));
  const commands = Object.fromEntries(COMMAND_STATUSES.map((status) => [status, 0]));
  for (const [state, status, n] of row.counts) {
    dispatches[state] += n;
    if (status !== null) {
      commands[status] += n;
    }
  }
  return {
    campaignId: row.campaign_id,
    name: row.name,
    state: row.state,
    command: row.command,
    ratePerMinute: row.rate_per_minute,
    canary: row.canary,
    abort: row.abort,
    startAt: row.start_at?.toISOString() ?? null,
    endAt: row.end_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    devices: row.devices,
    dispatches,
    commands,
    abortReason: row.abort_reason,
  };
}
