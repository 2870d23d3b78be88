import { Inject, Injectable } from '@nestjs/common';
import type pg from 'pg';
import { DATABASE_POOL } from '../database/database.module.js';
import {
  type AttemptOutcome,
  type DispatchCursor,
  type DispatchMode,
  type DispatchState,
} from './dispatches.dto.js';
import {
  CLAIM_SQL,
  COLUMNS,
  ENQUEUE_SQL,
  RECLAIM_SQL,
  REPLACE_LOCK_SQL,
} from './dispatch-queue.sql.js';

export interface Attempt {
  at: string;
  outcome: AttemptOutcome;
  platformError?: { code: string; message: string };
}

/** A dispatch as the queue holds it. */
export interface Dispatch {
  dispatchId: string;
  idempotencyKey: string | null;
  requestHash: string;
  deviceId: string;
  serviceId: string;
  method: string;
  paras: Record<string, unknown>;
  timeoutSeconds: number | null;
  sendStrategy: 'immediately' | 'delay';
  mode: DispatchMode;
  replaceKey: string | null;
  campaignId: string | null;
  notBefore: Date;
  sendBy: Date;
  state: DispatchState;
  nextAttemptAt: Date;
  callStartedAt: Date | null;
  intentId: string | null;
  commandId: string | null;
  attempts: Attempt[];
  createdAt: Date;
  updatedAt: Date;
}

export type NewDispatch = Pick<
  Dispatch,
  | 'dispatchId'
  | 'idempotencyKey'
  | 'requestHash'
  | 'deviceId'
  | 'serviceId'
  | 'method'
  | 'paras'
  | 'timeoutSeconds'
  | 'sendStrategy'
  | 'mode'
  | 'replaceKey'
  | 'notBefore'
  | 'sendBy'
>;

/** How an attempt ends for the queue. */
export type AttemptEnd =
  | { kind: 'sent'; commandId: string; attempt: Attempt | null }
  | { kind: 'retry'; at: Date; attempt: Attempt }
  /** The answer was lost: queued again, and its intent settled by reconciliation first. */
  | { kind: 'lost'; at: Date; attempt: Attempt }
  | { kind: 'closed'; state: 'failed' | 'expired'; attempt: Attempt | null }
  /** A lost attempt not settled yet: looked at again later, nothing recorded. */
  | { kind: 'wait'; at: Date };

interface DispatchRow {
  dispatch_id: string;
  idempotency_key: string | null;
  request_hash: string;
  device_id: string;
  service_id: string;
  method: string;
  paras: Record<string, unknown>;
  timeout_seconds: number | null;
  send_strategy: 'immediately' | 'delay';
  mode: DispatchMode;
  replace_key: string | null;
  campaign_id: string | null;
  not_before: Date;
  send_by: Date;
  state: DispatchState;
  next_attempt_at: Date;
  call_started_at: Date | null;
  intent_id: string | null;
  command_id: string | null;
  attempts: Attempt[];
  created_at: Date;
  updated_at: Date;
}

@Injectable()
export class DispatchQueueRepository {
  constructor(@Inject(DATABASE_POOL) private readonly pool: pg.Pool) {}

  private async rows<T extends pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
  ): Promise<T[]> {
    return (await this.pool.query<T>(sql, params)).rows;
  }

  /** Queues a dispatch, unless its Idempotency-Key is taken: then the dispatch that holds it. */
  async enqueue(
    dispatch: NewDispatch,
  ): Promise<{ created: boolean; dispatch: Dispatch } | undefined> {
    if (dispatch.idempotencyKey !== null) {
      // A key is kept 24 hours, as for POST /commands/dispatch; the dispatch stays.
      await this.rows(
        `UPDATE dispatches SET idempotency_key = NULL
         WHERE idempotency_key = $1 AND created_at < now() - interval '24 hours'`,
        [dispatch.idempotencyKey],
      );
    }
    const params = [
      dispatch.dispatchId,
      dispatch.idempotencyKey,
      dispatch.requestHash,
      dispatch.deviceId,
      dispatch.serviceId,
      dispatch.method,
      JSON.stringify(dispatch.paras),
      dispatch.timeoutSeconds,
      dispatch.sendStrategy,
      dispatch.mode,
      dispatch.replaceKey,
      dispatch.notBefore,
      dispatch.sendBy,
    ];
    const inserted: DispatchRow[] =
      dispatch.replaceKey === null
        ? await this.rows(ENQUEUE_SQL, params)
        : await this.replacing(dispatch.deviceId, dispatch.replaceKey, params);
    if (inserted.length > 0) {
      return { created: true, dispatch: toDispatch(inserted[0]) };
    }
    const existing: DispatchRow[] = await this.rows(
      `SELECT ${COLUMNS} FROM dispatches WHERE idempotency_key = $1`,
      [dispatch.idempotencyKey],
    );
    return existing.length === 0
      ? undefined
      : { created: false, dispatch: toDispatch(existing[0]) };
  }

  /** ENQUEUE_SQL in a transaction holding the device and replaceKey's lock. */
  private async replacing(
    deviceId: string,
    replaceKey: string,
    params: unknown[],
  ): Promise<DispatchRow[]> {
    const client = await this.pool.connect();
    let broken: unknown;
    try {
      await client.query('BEGIN');
      await client.query(REPLACE_LOCK_SQL, [deviceId, replaceKey]);
      const { rows } = await client.query<DispatchRow>(ENQUEUE_SQL, params);
      await client.query('COMMIT');
      return rows;
    } catch (error) {
      broken = await client.query('ROLLBACK').then(
        () => undefined,
        (rollbackError: unknown) => rollbackError,
      );
      throw error;
    } finally {
      // A connection whose rollback failed is not handed out again.
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  async find(dispatchId: string): Promise<Dispatch | undefined> {
    const rows: DispatchRow[] = await this.rows(
      `SELECT ${COLUMNS} FROM dispatches WHERE dispatch_id = $1`,
      [dispatchId],
    );
    return rows.length === 0 ? undefined : toDispatch(rows[0]);
  }

  /** Newest first, after `cursor`. */
  async list(filter: {
    deviceId: string | undefined;
    states: DispatchState[] | undefined;
    campaignId: string | undefined;
    cursor: DispatchCursor | undefined;
    limit: number;
  }): Promise<Dispatch[]> {
    const rows: DispatchRow[] = await this.rows(
      `SELECT ${COLUMNS} FROM dispatches
       WHERE ($1::text IS NULL OR device_id = $1)
         AND ($2::text[] IS NULL OR state = ANY($2::text[]))
         AND ($3::text IS NULL OR campaign_id = $3)
         AND ($4::timestamptz IS NULL OR (created_at, dispatch_id) < ($4::timestamptz, $5::text))
       ORDER BY created_at DESC, dispatch_id DESC
       LIMIT $6`,
      [
        filter.deviceId ?? null,
        filter.states ?? null,
        filter.campaignId ?? null,
        filter.cursor?.createdAt ?? null,
        filter.cursor?.dispatchId ?? null,
        filter.limit,
      ],
    );
    return rows.map(toDispatch);
  }

  /** Cancels a queued dispatch; undefined when it is unknown, else the dispatch as it is now. */
  async cancel(dispatchId: string): Promise<{ canceled: boolean; dispatch: Dispatch } | undefined> {
    const rows: DispatchRow[] = await this.rows(
      `UPDATE dispatches SET state = 'canceled', updated_at = now()
       WHERE dispatch_id = $1 AND state = 'queued' AND intent_id IS NULL
       RETURNING ${COLUMNS}`,
      [dispatchId],
    );
    if (rows.length > 0) {
      return { canceled: true, dispatch: toDispatch(rows[0]) };
    }
    const current = await this.find(dispatchId);
    return current === undefined ? undefined : { canceled: false, dispatch: current };
  }

  /** Whether any dispatch is due (it may still wait behind its device's earlier ones). */
  async hasDue(): Promise<boolean> {
    const rows: unknown[] = await this.rows(
      `SELECT 1 FROM dispatches WHERE state = 'queued' AND next_attempt_at <= now() LIMIT 1`,
    );
    return rows.length > 0;
  }

  /** Leases up to `limit` due dispatches to this instance. */
  async claim(
    limit: number,
    deviceConcurrency: number,
    pendingLimit: number,
    leaseSeconds: { async: number; sync: number },
  ): Promise<Dispatch[]> {
    const rows: DispatchRow[] = await this.rows(CLAIM_SQL, [
      limit,
      deviceConcurrency,
      pendingLimit,
      leaseSeconds.async,
      leaseSeconds.sync,
    ]);
    return rows.map(toDispatch);
  }

  /** Queues again (or fails) the dispatches whose lease ran out; expires those past sendBy. */
  async sweep(): Promise<void> {
    await this.rows(RECLAIM_SQL);
    await this.rows(
      `UPDATE dispatches SET state = 'expired', updated_at = now()
       WHERE state = 'queued' AND send_by < now() AND intent_id IS NULL`,
    );
  }

  /** Marks the platform call about to start (and its intent, for an asynchronous one). */
  async callStarting(dispatchId: string, intentId: string | null): Promise<void> {
    await this.rows(
      `UPDATE dispatches SET call_started_at = now(), intent_id = $2::bigint, updated_at = now()
       WHERE dispatch_id = $1 AND state = 'sending'`,
      [dispatchId, intentId],
    );
  }

  /** Ends a leased attempt; false when the lease was lost meanwhile. */
  async end(dispatchId: string, end: AttemptEnd): Promise<boolean> {
    const attempt = 'attempt' in end && end.attempt !== null ? [end.attempt] : [];
    let state: DispatchState;
    let next: Date | null = null;
    let keepIntent = false;
    let commandId: string | null = null;
    switch (end.kind) {
      case 'sent':
        state = 'sent';
        commandId = end.commandId;
        break;
      case 'retry':
        state = 'queued';
        next = end.at;
        break;
      case 'lost':
      case 'wait':
        state = 'queued';
        next = end.at;
        keepIntent = true;
        break;
      case 'closed':
        state = end.state;
        break;
    }
    const rows: unknown[] = await this.rows(
      `UPDATE dispatches
       SET state = $2, next_attempt_at = COALESCE($3, next_attempt_at),
           intent_id = CASE WHEN $4 THEN intent_id END, command_id = COALESCE($5, command_id),
           attempts = attempts || $6::jsonb, call_started_at = NULL, lease_until = NULL,
           updated_at = now()
       WHERE dispatch_id = $1 AND state = 'sending'
       RETURNING dispatch_id`,
      [dispatchId, state, next, keepIntent, commandId, JSON.stringify(attempt)],
    );
    return rows.length > 0;
  }

  /**
   * Counts for the metrics: dispatches by state, and since when the longest-waiting queued one
   * is in line (created, its notBefore passed and, for a campaign's, released); one waiting for
   * its notBefore or its release is not late.
   */
  async stats(): Promise<{ byState: Map<string, number>; oldestQueuedAt: Date | null }> {
    const rows: { state: string; count: string; oldest: Date | null }[] = await this.rows(
      `SELECT state, count(*)::text AS count,
         min(GREATEST(created_at, not_before, COALESCE(released_at, created_at))) FILTER (
           WHERE not_before <= now() AND (campaign_id IS NULL OR released_at IS NOT NULL)
         ) AS oldest
       FROM dispatches GROUP BY state`,
    );
    return {
      byState: new Map(rows.map((row) => [row.state, Number(row.count)])),
      oldestQueuedAt: rows.find((row) => row.state === 'queued')?.oldest ?? null,
    };
  }
}

function toDispatch(row: DispatchRow): Dispatch {
  return {
    dispatchId: row.dispatch_id,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    deviceId: row.device_id,
    serviceId: row.service_id,
    method: row.method,
    paras: row.paras,
    timeoutSeconds: row.timeout_seconds,
    sendStrategy: row.send_strategy,
    mode: row.mode,
    replaceKey: row.replace_key,
    campaignId: row.campaign_id,
    notBefore: row.not_before,
    sendBy: row.send_by,
    state: row.state,
    nextAttemptAt: row.next_attempt_at,
    callStartedAt: row.call_started_at,
    intentId: row.intent_id,
    commandId: row.command_id,
    attempts: row.attempts,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
