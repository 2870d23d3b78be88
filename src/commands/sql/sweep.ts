import { commandLockKey } from './apply.js';

// The deadline sweeper's statements (DeadlineSweeper, CommandsRepository.sweepOverdue and
// purgeFinished).

/**
 * The deadline sweep's first step, a statement of its own (see apply.ts): up to `limit`
 * overdue open commands whose advisory lock is free, now held by this transaction, the most
 * overdue first. A command being applied by a report, or claimed by another instance's sweep, is
 * passed over: the candidates are the 2 x `limit` most overdue, tried in order until `limit` are
 * held, so that two instances sweeping at once each claim their own.
 */
export function claimOverdueSql(limit: number): string {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`A sweep's size must be a positive integer, not ${limit}`);
  }
  return `
SELECT d.command_id
FROM (
  SELECT command_id FROM commands
  WHERE rank < 3 AND deadline <= now()
  ORDER BY deadline
  LIMIT ${2 * limit}
) d
WHERE pg_try_advisory_xact_lock(${commandLockKey('d.command_id')})
LIMIT ${limit}`;
}

/**
 * The deadline sweep of the claimed commands $1: lock those nobody else holds (SKIP LOCKED), move
 * them by the rank rule to TIMEOUT (from SENT or DELIVERED) or EXPIRED (from PENDING), and append
 * that to the history as source 'sweeper'. A command whose report committed first is re-checked
 * under the lock (rank < 3, still overdue) and left alone; a late SUCCESSFUL still applies
 * afterwards.
 */
export const SWEEP_OVERDUE_SQL = `
WITH due AS (
  SELECT command_id, status
  FROM commands
  WHERE command_id = ANY($1::text[]) AND rank < 3 AND deadline <= now()
  FOR UPDATE SKIP LOCKED
),
swept AS (
  UPDATE commands c SET
    status        = CASE WHEN d.status = 'PENDING' THEN 'EXPIRED' ELSE 'TIMEOUT' END,
    rank          = 3,
    result_detail = NULL,
    completed_at  = COALESCE(c.completed_at, now()),
    version       = c.version + 1,
    updated_at    = now()
  FROM due d
  WHERE c.command_id = d.command_id AND c.rank < 3
  RETURNING c.command_id, c.device_id, c.status, d.status AS previous_status, c.version
),
recorded AS (
  INSERT INTO command_history (
    command_id, status, outcome, source, previous_status, version, result_detail, payload, received_at)
  SELECT command_id, status, 'applied', 'sweeper', previous_status, version, NULL, NULL, now()
  FROM swept
  ORDER BY command_id
  RETURNING status
)
SELECT status FROM recorded`;

/**
 * Retention: deletes up to $2 finished commands (rank 3 or 4) unchanged for $1 days; their history
 * goes with them (ON DELETE CASCADE). Commands locked by a report being applied are left for later.
 */
export const PURGE_FINISHED_SQL = `
WITH doomed AS (
  SELECT command_id
  FROM commands
  WHERE rank >= 3 AND updated_at < now() - make_interval(days => $1::integer)
  ORDER BY updated_at
  LIMIT $2
  FOR UPDATE SKIP LOCKED
),
deleted AS (
  DELETE FROM commands c USING doomed d WHERE c.command_id = d.command_id
  RETURNING c.command_id
)
SELECT count(*)::integer AS purged FROM deleted`;
