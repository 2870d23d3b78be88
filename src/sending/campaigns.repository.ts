import { Inject, Injectable } from '@nestjs/common';
import type pg from 'pg';
import { DATABASE_POOL } from '../database/database.module.js';
import { type DatabaseClient } from '../database/data-source.js';
import { type CampaignCursor, type CampaignState } from './campaigns.dto.js';
import {
  ABORT_SQL,
  CANARY_SQL,
  COMPLETE_SQL,
  CREATE_SQL,
  FIND_SQL,
  LIST_SQL,
  PAUSE_SQL,
  RELEASE_SQL,
  RESULTS_SQL,
  RESUME_SQL,
  RETRY_FAILED_SQL,
  START_SQL,
  type CampaignRow,
} from './campaigns.sql.js';

export interface CampaignCommand {
  serviceId: string;
  method: string;
  paras: Record<string, unknown>;
  mode: 'async' | 'sync';
  timeoutSeconds: number | null;
}

export interface NewCampaign {
  campaignId: string;
  idempotencyKey: string | null;
  requestHash: string;
  name: string;
  command: CampaignCommand;
  devices: string[];
  ratePerMinute: number;
  canary: { devices: number; minSuccessPercent: number } | null;
  abort: { failurePercent: number; minResults: number } | null;
  startAt: Date | null;
  endAt: Date | null;
  notBefore: Date;
  sendBy: Date;
}

/** A running campaign as the releaser sees it. */
export interface ActiveCampaign {
  campaignId: string;
  canary: { devices: number; minSuccessPercent: number } | null;
  canaryPassed: boolean;
  released: number;
  abort: { failurePercent: number; minResults: number } | null;
  ratePerMinute: number;
}

const LONG_STATEMENT_MS = 120_000;

@Injectable()
export class CampaignsRepository {
  constructor(@Inject(DATABASE_POOL) private readonly pool: pg.Pool) {}

  private async rows<T extends pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
  ): Promise<T[]> {
    return (await this.pool.query<T>(sql, params)).rows;
  }

  /**
   * One statement allowed LONG_STATEMENT_MS instead of the pool's statement timeout: a campaign's
   * 100,000 dispatches are inserted, canceled or retried at once, which takes seconds on a busy
   * machine (10 s was seen on PostgreSQL under load), and such a change is rare and asked for by
   * an operator, or by the releaser's abort, which must not fail for want of time.
   */
  private async longStatement<T extends pg.QueryResultRow>(
    sql: string,
    params: unknown[],
  ): Promise<T[]> {
    const client = await this.pool.connect();
    // The connection's watchdog (data-source.ts) would cut it at the pool's usual bound.
    const watched = client as unknown as Partial<DatabaseClient>;
    watched.allowSlowQueries?.(LONG_STATEMENT_MS + 1000);
    try {
      await client.query(`BEGIN; SET LOCAL statement_timeout = ${LONG_STATEMENT_MS}`);
      const { rows } = await client.query<T>(sql, params);
      await client.query('COMMIT');
      watched.allowSlowQueries?.(undefined);
      client.release();
      return rows;
    } catch (error) {
      const rolledBack = await client.query('ROLLBACK').then(
        () => true,
        () => false,
      );
      watched.allowSlowQueries?.(undefined);
      client.release(rolledBack ? undefined : (error as Error));
      throw error;
    }
  }

  /**
   * The campaign and one dispatch per device, in one statement; unless its Idempotency-Key is
   * taken: then the campaign that holds it (or undefined if it went meanwhile).
   */
  async create(
    campaign: NewCampaign,
  ): Promise<{ created: boolean; campaign: CampaignRow } | undefined> {
    const inserted = await this.longStatement<{ campaign_id: string }>(CREATE_SQL, [
      campaign.campaignId,
      campaign.idempotencyKey,
      campaign.requestHash,
      campaign.name,
      JSON.stringify(campaign.command),
      campaign.ratePerMinute,
      campaign.canary === null ? null : JSON.stringify(campaign.canary),
      campaign.abort === null ? null : JSON.stringify(campaign.abort),
      campaign.startAt,
      campaign.endAt,
      campaign.devices.length,
      campaign.devices,
      campaign.notBefore,
      campaign.sendBy,
    ]);
    if (inserted.length > 0) {
      const created = await this.find(campaign.campaignId);
      return created === undefined ? undefined : { created: true, campaign: created };
    }
    const existing: { campaign_id: string }[] = await this.rows(
      `SELECT campaign_id FROM campaigns WHERE idempotency_key = $1`,
      [campaign.idempotencyKey],
    );
    const found = existing.length === 0 ? undefined : await this.find(existing[0].campaign_id);
    return found === undefined ? undefined : { created: false, campaign: found };
  }

  /** The campaign with its counts by dispatch state and command status, in one statement. */
  async find(campaignId: string): Promise<CampaignRow | undefined> {
    const rows: CampaignRow[] = await this.rows(FIND_SQL, [campaignId]);
    return rows[0];
  }

  async list(filter: {
    state: CampaignState | undefined;
    cursor: CampaignCursor | undefined;
    limit: number;
  }): Promise<CampaignRow[]> {
    return this.rows(LIST_SQL, [
      filter.state ?? null,
      filter.cursor?.createdAt ?? null,
      filter.cursor?.campaignId ?? null,
      filter.limit,
    ]);
  }

  /** Moves a campaign from one of `from` to `to`, canceling its queued dispatches. */
  async close(
    campaignId: string,
    from: CampaignState[],
    to: 'aborted' | 'canceled',
    reason: string | null,
  ): Promise<boolean> {
    const rows = await this.longStatement<{ changed: string }>(ABORT_SQL, [
      campaignId,
      from,
      to,
      reason,
    ]);
    return Number(rows[0]?.changed ?? 0) > 0;
  }

  /** Pauses a campaign; its released dispatches not sent yet are held again. */
  async pause(campaignId: string): Promise<boolean> {
    const rows = await this.longStatement<{ changed: string }>(PAUSE_SQL, [campaignId]);
    return Number(rows[0]?.changed ?? 0) > 0;
  }

  async resume(campaignId: string): Promise<boolean> {
    const rows: unknown[] = await this.rows(RESUME_SQL, [campaignId]);
    return rows.length > 0;
  }

  /** New dispatches for the devices whose latest result in the campaign failed; how many. */
  async retryFailed(campaignId: string, sendBy: Date): Promise<number> {
    const rows = await this.longStatement<{ created: string }>(RETRY_FAILED_SQL, [
      campaignId,
      sendBy,
    ]);
    return Number(rows[0]?.created ?? 0);
  }

  /** Scheduled campaigns whose start came become running. */
  async start(): Promise<void> {
    await this.rows(START_SQL);
  }

  async active(): Promise<ActiveCampaign[]> {
    const rows: {
      campaign_id: string;
      canary: ActiveCampaign['canary'];
      canary_passed: boolean;
      released: number;
      abort: ActiveCampaign['abort'];
      rate_per_minute: number;
    }[] = await this.rows(
      `SELECT campaign_id, canary, canary_passed, released, abort, rate_per_minute FROM campaigns
       WHERE state = 'running' ORDER BY created_at`,
    );
    return rows.map((row) => ({
      campaignId: row.campaign_id,
      canary: row.canary,
      canaryPassed: row.canary_passed,
      released: row.released,
      abort: row.abort,
      ratePerMinute: row.rate_per_minute,
    }));
  }

  /** Releases what the campaign's budget allows now; how many. */
  async release(campaign: ActiveCampaign): Promise<number> {
    // What RELEASE_SQL's budget can hold: two seconds' worth, at least one.
    const most = Math.max(1, Math.ceil(campaign.ratePerMinute / 30));
    const rows: { released: string }[] = await this.rows(RELEASE_SQL, [campaign.campaignId, most]);
    return Number(rows[0]?.released ?? 0);
  }

  /** The canary's devices: still open, and how many succeeded of how many. */
  async canary(
    campaignId: string,
    devices: number,
  ): Promise<{ open: number; successful: number; total: number }> {
    const rows: { open: string; successful: string; total: string }[] = await this.rows(
      CANARY_SQL,
      [campaignId, devices],
    );
    return {
      open: Number(rows[0].open),
      successful: Number(rows[0].successful),
      total: Number(rows[0].total),
    };
  }

  async passCanary(campaignId: string): Promise<void> {
    await this.rows(
      `UPDATE campaigns SET canary_passed = true, updated_at = now()
       WHERE campaign_id = $1 AND state = 'running'`,
      [campaignId],
    );
  }

  /** Each device's latest result in the campaign: how many are final, how many of them failed. */
  async results(campaignId: string): Promise<{ results: number; failures: number }> {
    const rows: { results: string; failures: string }[] = await this.rows(RESULTS_SQL, [
      campaignId,
    ]);
    return { results: Number(rows[0].results), failures: Number(rows[0].failures) };
  }

  /** Completes the campaign when every dispatch is closed and every command rank 3 or 4. */
  async completeIfDone(campaignId: string): Promise<void> {
    await this.rows(COMPLETE_SQL, [campaignId]);
  }
}
