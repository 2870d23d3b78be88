import { Inject, Injectable } from '@nestjs/common';
import type pg from 'pg';
import { DATABASE_POOL } from '../database/database.module.js';
import { type CommandStatus } from '../commands/command-status.js';

/** A dispatch as recorded before the platform is called. */
export interface DispatchIntent {
  id: string;
  idempotencyKey: string | null;
  requestHash: string;
  deviceId: string;
  serviceId: string;
  method: string;
  paras: Record<string, unknown>;
  timeoutSeconds: number | null;
  state: IntentState;
  commandId: string | null;
  /** The first answer (PlatformAnswers'), given again for a repeated Idempotency-Key. */
  answerStatus: number | null;
  answerBody: string | null;
  createdAt: Date;
}

/**
 * calling: the platform is being asked; created: it answered with a command; refused: it refused;
 * lost: its answer did not come in time (reconciliation searches the device's commands);
 * abandoned: reconciliation gave up after IDEMPOTENCY_HOURS.
 */
export type IntentState = 'calling' | 'created' | 'refused' | 'lost' | 'abandoned';

export type NewIntent = Pick<
  DispatchIntent,
  | 'idempotencyKey'
  | 'requestHash'
  | 'deviceId'
  | 'serviceId'
  | 'method'
  | 'paras'
  | 'timeoutSeconds'
>;

/** The budgets of platform calls shared by all instances: RECONCILE_RATE's and DISPATCH_RATE's. */
export type CallBudget = 'reconcile' | 'dispatch';

/** How long an Idempotency-Key is kept, and a lost dispatch searched for. */
export const IDEMPOTENCY_HOURS = 24;

interface IntentRow {
  id: string;
  idempotency_key: string | null;
  request_hash: string;
  device_id: string;
  service_id: string;
  method: string;
  paras: Record<string, unknown>;
  timeout_seconds: number | null;
  state: IntentState;
  command_id: string | null;
  answer_status: number | null;
  answer_body: string | null;
  created_at: Date;
}

const INTENT_COLUMNS = `id::text AS id, idempotency_key, request_hash, device_id, service_id, method,
  paras, timeout_seconds, state, command_id, answer_status, answer_body, created_at`;

// A token bucket of $1 tokens refilled at $1 a second, shared by every instance: one row per
// budget (1: RECONCILE_RATE, 2: DISPATCH_RATE), taken from atomically, so the instances together
// never exceed the rate.
export const TAKE_CALL_TOKEN_SQL = `
UPDATE platform_call_budget
SET tokens = LEAST($1::float8, tokens + EXTRACT(EPOCH FROM clock_timestamp() - refilled_at) * $1::float8) - 1,
    refilled_at = clock_timestamp()
WHERE id = $2
  AND LEAST($1::float8, tokens + EXTRACT(EPOCH FROM clock_timestamp() - refilled_at) * $1::float8) >= 1
RETURNING tokens`;

// Up to $3 tokens at once from budget $2 (refilled at $1 a second, holding at most $1): how many
// it gave. Tokens a caller could not use are given back with RETURN_CALL_TOKENS_SQL.
export const TAKE_CALL_TOKENS_SQL = `
WITH budget AS (
  SELECT LEAST($1::float8, tokens + EXTRACT(EPOCH FROM clock_timestamp() - refilled_at) * $1::float8) AS available
  FROM platform_call_budget WHERE id = $2 FOR UPDATE
)
UPDATE platform_call_budget b
SET tokens = budget.available - LEAST($3::int, floor(budget.available)), refilled_at = clock_timestamp()
FROM budget
WHERE b.id = $2 AND budget.available >= 1
RETURNING LEAST($3::int, floor(budget.available))::int AS granted`;

export const RETURN_CALL_TOKENS_SQL = `
UPDATE platform_call_budget SET tokens = LEAST($1::float8, tokens + $3::float8) WHERE id = $2`;

// Open commands without news for $1 seconds and not looked up for as long, claimed for one
// lookup: the conditional upsert lets only one instance claim a command per period.
export const CLAIM_STALE_COMMANDS_SQL = `
WITH candidates AS (
  SELECT c.command_id
  FROM commands c LEFT JOIN command_reconciliations r ON r.command_id = c.command_id
  WHERE c.rank < 3
    AND c.updated_at < now() - make_interval(secs => $1)
    AND (r.checked_at IS NULL OR r.checked_at < now() - make_interval(secs => $1))
  ORDER BY COALESCE(r.checked_at, c.updated_at)
  LIMIT $2
),
claimed AS (
  INSERT INTO command_reconciliations AS r (command_id, checked_at)
  SELECT command_id, now() FROM candidates
  ON CONFLICT (command_id) DO UPDATE SET checked_at = excluded.checked_at
    WHERE r.checked_at < now() - make_interval(secs => $1)
  RETURNING r.command_id
)
SELECT c.command_id, c.device_id, c.created_at, c.status
FROM claimed JOIN commands c ON c.command_id = claimed.command_id`;

@Injectable()
export class DispatchRepository {
  constructor(@Inject(DATABASE_POOL) private readonly pool: pg.Pool) {}

  // pg directly, not DataSource.query(): that answers an UPDATE ... RETURNING as [rows, count].
  private async rows<T extends pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
  ): Promise<T[]> {
    return (await this.pool.query<T>(sql, params)).rows;
  }

  /**
   * Records the intent, unless its Idempotency-Key is already taken (kept IDEMPOTENCY_HOURS):
   * then the intent that holds it.
   */
  async record(
    intent: NewIntent,
  ): Promise<{ created: true; id: string } | { created: false; existing: DispatchIntent }> {
    for (;;) {
      if (intent.idempotencyKey !== null) {
        await this.rows(
          `DELETE FROM dispatch_intents WHERE idempotency_key = $1
             AND created_at < now() - make_interval(hours => ${IDEMPOTENCY_HOURS})`,
          [intent.idempotencyKey],
        );
      }
      const inserted: { id: string }[] = await this.rows(
        `INSERT INTO dispatch_intents (idempotency_key, request_hash, device_id, service_id, method,
           paras, timeout_seconds, state, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'calling', now(), now())
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING id::text AS id`,
        [
          intent.idempotencyKey,
          intent.requestHash,
          intent.deviceId,
          intent.serviceId,
          intent.method,
          JSON.stringify(intent.paras),
          intent.timeoutSeconds,
        ],
      );
      if (inserted.length > 0) {
        return { created: true, id: inserted[0].id };
      }
      const existing = await this.findByKey(intent.idempotencyKey ?? '');
      // Gone meanwhile (expired and deleted by another request): try again.
      if (existing !== undefined) {
        return { created: false, existing };
      }
    }
  }

  async find(id: string): Promise<DispatchIntent | undefined> {
    const rows: IntentRow[] = await this.rows(
      `SELECT ${INTENT_COLUMNS} FROM dispatch_intents WHERE id = $1`,
      [id],
    );
    return rows.length === 0 ? undefined : toIntent(rows[0]);
  }

  private async findByKey(key: string): Promise<DispatchIntent | undefined> {
    const rows: IntentRow[] = await this.rows(
      `SELECT ${INTENT_COLUMNS} FROM dispatch_intents WHERE idempotency_key = $1`,
      [key],
    );
    return rows.length === 0 ? undefined : toIntent(rows[0]);
  }

  /**
   * Settles an unresolved intent; false if it was settled meanwhile or the command is claimed. An
   * answer kept for the state it leaves (a lost dispatch's 504) goes: it no longer says what happened.
   */
  async settle(
    id: string,
    state: Exclude<IntentState, 'calling'>,
    commandId: string | null,
  ): Promise<boolean> {
    try {
      const rows: unknown[] = await this.rows(
        `UPDATE dispatch_intents
         SET state = $2, command_id = COALESCE($3, command_id),
             answer_status = NULL, answer_body = NULL, updated_at = now()
         WHERE id = $1 AND state IN ('calling', 'lost')
         RETURNING id`,
        [id, state, commandId],
      );
      return rows.length > 0;
    } catch (error) {
      if ((error as { code?: unknown }).code === '23505') {
        return false;
      }
      throw error;
    }
  }

  /**
   * Keeps the answer a repeated Idempotency-Key gets, unless the intent has left the state the
   * answer was made for (reconciliation settled a lost dispatch meanwhile, and keeps its own).
   */
  async keepAnswer(
    id: string,
    state: Exclude<IntentState, 'calling'>,
    answer: { status: number; body: string },
  ): Promise<void> {
    await this.rows(
      `UPDATE dispatch_intents SET answer_status = $3, answer_body = $4
       WHERE id = $1 AND state = $2`,
      [id, state, answer.status, answer.body],
    );
  }

  /**
   * Claims for one lookup the dispatches whose answer was lost, or whose caller stopped waiting
   * more than `stuckSeconds` ago: those never looked up first, then the longest since their last
   * lookup, none looked up in the last `gapSeconds` (another instance's pass has it). Those older
   * than IDEMPOTENCY_HOURS are abandoned first. `callOver`: no platform call for it can still be
   * running, so a command not found now is known not to exist.
   */
  async claimUnresolved(
    stuckSeconds: number,
    gapSeconds: number,
    limit: number,
  ): Promise<(DispatchIntent & { callOver: boolean })[]> {
    await this.rows(
      `UPDATE dispatch_intents SET state = 'abandoned', updated_at = now()
       WHERE state IN ('calling', 'lost')
         AND created_at < now() - make_interval(hours => ${IDEMPOTENCY_HOURS})`,
    );
    const rows: (IntentRow & { call_over: boolean })[] = await this.rows(
      `WITH picked AS (
         SELECT id AS picked_id FROM dispatch_intents
         WHERE (state = 'lost' OR (state = 'calling' AND created_at < now() - make_interval(secs => $1)))
           AND (looked_up_at IS NULL OR looked_up_at < now() - make_interval(secs => $2))
         ORDER BY looked_up_at NULLS FIRST, created_at
         LIMIT $3
         FOR UPDATE SKIP LOCKED
       )
       UPDATE dispatch_intents d SET looked_up_at = now()
       FROM picked WHERE d.id = picked.picked_id
       RETURNING ${INTENT_COLUMNS}, created_at < now() - make_interval(secs => $1) AS call_over`,
      [stuckSeconds, gapSeconds, limit],
    );
    return rows.map((row) => ({ ...toIntent(row), callOver: row.call_over }));
  }

  /** Forgets settled intents whose Idempotency-Key has expired. */
  async purgeExpired(): Promise<void> {
    await this.rows(
      `DELETE FROM dispatch_intents
       WHERE state IN ('created', 'refused', 'abandoned')
         AND created_at < now() - make_interval(hours => ${IDEMPOTENCY_HOURS})`,
    );
  }

  /** Takes one platform call from a shared budget; false when it is spent for now. */
  async takeCallToken(ratePerSecond: number, budget: CallBudget = 'reconcile'): Promise<boolean> {
    const rows: unknown[] = await this.rows(TAKE_CALL_TOKEN_SQL, [
      ratePerSecond,
      budget === 'reconcile' ? 1 : 2,
    ]);
    return rows.length > 0;
  }

  /** Takes up to `wanted` platform calls from a shared budget at once: how many it got. */
  async takeCallTokens(ratePerSecond: number, budget: CallBudget, wanted: number): Promise<number> {
    const rows: { granted: number }[] = await this.rows(TAKE_CALL_TOKENS_SQL, [
      ratePerSecond,
      budget === 'reconcile' ? 1 : 2,
      wanted,
    ]);
    return rows[0]?.granted ?? 0;
  }

  /** Gives back tokens taken and not used. */
  async returnCallTokens(ratePerSecond: number, budget: CallBudget, unused: number): Promise<void> {
    await this.rows(RETURN_CALL_TOKENS_SQL, [
      ratePerSecond,
      budget === 'reconcile' ? 1 : 2,
      unused,
    ]);
  }

  async claimStaleCommands(
    afterSeconds: number,
    limit: number,
  ): Promise<{ commandId: string; deviceId: string; createdAt: Date; status: CommandStatus }[]> {
    const rows: {
      command_id: string;
      device_id: string;
      created_at: Date;
      status: CommandStatus;
    }[] = await this.rows(CLAIM_STALE_COMMANDS_SQL, [afterSeconds, limit]);
    return rows.map((row) => ({
      commandId: row.command_id,
      deviceId: row.device_id,
      createdAt: row.created_at,
      status: row.status,
    }));
  }

  /** Which of these platform commands other intents already hold. */
  async claimedCommandIds(commandIds: string[]): Promise<Set<string>> {
    const rows: { command_id: string }[] = await this.rows(
      `SELECT command_id FROM dispatch_intents WHERE command_id = ANY($1::text[])`,
      [commandIds],
    );
    return new Set(rows.map((row) => row.command_id));
  }

  async findCommand(commandId: string): Promise<{ deviceId: string; createdAt: Date } | undefined> {
    const rows: { device_id: string; created_at: Date }[] = await this.rows(
      `SELECT device_id, created_at FROM commands WHERE command_id = $1`,
      [commandId],
    );
    return rows.length === 0
      ? undefined
      : { deviceId: rows[0].device_id, createdAt: rows[0].created_at };
  }
}

function toIntent(row: IntentRow): DispatchIntent {
  return {
    id: row.id,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    deviceId: row.device_id,
    serviceId: row.service_id,
    method: row.method,
    paras: row.paras,
    timeoutSeconds: row.timeout_seconds,
    state: row.state,
    commandId: row.command_id,
    answerStatus: row.answer_status,
    answerBody: row.answer_body,
    createdAt: row.created_at,
  };
}
