// The per-device queue's statements (DispatchQueueRepository runs them).

export const COLUMNS = `dispatch_id, idempotency_key, request_hash, device_id, service_id, method, paras,
  timeout_seconds, send_strategy, mode, replace_key, campaign_id, not_before, send_by, state,
  next_attempt_at, call_started_at, intent_id::text AS intent_id, command_id, attempts,
  created_at, updated_at`;

// A new dispatch, and the older queued ones of its device with the same replaceKey superseded in
// the same statement ("latest setting wins"); one whose answer is being searched for may be on
// the platform already, so it stays. With a replaceKey it runs under the device and key's lock
// (REPLACE_LOCK_SQL), so that of concurrent ones each sees those before it and one stays queued;
// statement_timestamp() is taken after that lock, so the one that stays is also the newest.
export const ENQUEUE_SQL = `
WITH inserted AS (
  INSERT INTO dispatches (dispatch_id, idempotency_key, request_hash, device_id, service_id, method,
    paras, timeout_seconds, send_strategy, mode, replace_key, not_before, send_by, state,
    next_attempt_at, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'queued', $12,
    statement_timestamp(), statement_timestamp())
  ON CONFLICT (idempotency_key) DO NOTHING
  RETURNING ${COLUMNS}
),
superseded AS (
  UPDATE dispatches SET state = 'superseded', updated_at = statement_timestamp()
  WHERE $11::text IS NOT NULL AND device_id = $4 AND replace_key = $11 AND state = 'queued'
    AND intent_id IS NULL AND EXISTS (SELECT 1 FROM inserted)
  RETURNING dispatch_id
)
SELECT * FROM inserted`;

// Held until the transaction ends: a device's dispatches with one replaceKey queued one at a time.
export const REPLACE_LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(1) || $2, 24))`;

// Due dispatches, each the first in line of its device (creation order), whose device has fewer
// than $2 open commands sent from the queue and fewer than $3 PENDING commands, leased to this
// instance for $4 seconds ($5 for a synchronous one). In line: sending, or queued with its
// notBefore passed and, for a campaign's, released; one still waiting for its notBefore or its
// release takes its place when that comes, and holds none of the device's other dispatches
// meanwhile, while one waiting for a retry keeps its place. SKIP LOCKED: what another instance
// is claiming is not waited for, and the device's later dispatches stay behind it, since it is
// in line either way.
export const CLAIM_SQL = `
WITH due AS (
  SELECT d.dispatch_id AS due_id
  FROM dispatches d
  WHERE d.state = 'queued' AND d.next_attempt_at <= now()
    AND NOT EXISTS (
      SELECT 1 FROM dispatches e
      WHERE e.device_id = d.device_id AND e.state IN ('queued', 'sending') AND e.seq < d.seq
        AND (e.state = 'sending'
          OR (e.not_before <= now() AND (e.campaign_id IS NULL OR e.released_at IS NOT NULL))))
    AND (d.intent_id IS NOT NULL OR (
      (SELECT count(*) FROM dispatches s JOIN commands c ON c.command_id = s.command_id
       WHERE s.device_id = d.device_id AND s.state = 'sent' AND c.rank < 3) < $2
      AND (SELECT count(*) FROM commands c
           WHERE c.device_id = d.device_id AND c.status = 'PENDING') < $3))
  ORDER BY d.next_attempt_at
  LIMIT $1
  FOR UPDATE OF d SKIP LOCKED
)
UPDATE dispatches q
SET state = 'sending', updated_at = now(),
  lease_until = now() + make_interval(secs => CASE WHEN q.mode = 'sync' THEN $5::int ELSE $4::int END)
FROM due WHERE q.dispatch_id = due.due_id
RETURNING ${COLUMNS}`;

// Leases that ran out (the instance stopped, or was killed, mid-attempt). A call that may have
// reached the platform is a lost attempt: an asynchronous one is searched for by reconciliation
// before any resend; a synchronous one cannot be searched for, so it fails rather than risk a
// second command. One that never called the platform is simply queued again.
export const RECLAIM_SQL = `
UPDATE dispatches
SET state = CASE WHEN call_started_at IS NOT NULL AND intent_id IS NULL THEN 'failed' ELSE 'queued' END,
    attempts = CASE WHEN call_started_at IS NULL THEN attempts
      ELSE attempts || jsonb_build_array(jsonb_build_object(
        'at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'outcome', 'lost')) END,
    call_started_at = NULL, lease_until = NULL, next_attempt_at = now(), updated_at = now()
WHERE state = 'sending' AND lease_until < now()`;
