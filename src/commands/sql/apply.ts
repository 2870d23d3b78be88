// The statements of the write path: how reports are applied by the rank rule, many per statement.
//
// The feed reads changes in (xid, id) order and needs: if a transaction writes a command after
// another one wrote it, its xid is the higher. A transaction gets its xid at its first write or row
// lock, so every transaction that writes commands or their history first takes one
// transaction-level advisory lock per command, in a statement of its own, before any write or row
// lock (lockCommandsSql, waitForCommandSql). Whoever holds a command's advisory lock is then
// the only one of these writers that can write it until its commit, and it got its xid after the
// previous holder's.

/** The advisory lock key of a command: the same for every writer, the sweeper included. */
export const commandLockKey = (commandId: string) => `hashtextextended(${commandId}, 0)`;

/**
 * Tries the advisory lock of each command without waiting: one row per command, in order, true
 * when this transaction now holds it. A command another transaction holds is applied later, alone
 * (see waitForCommandSql), so that it holds up nobody else. The ids are literals (pg's
 * escapeLiteral), so that this statement can go in the same round trip as BEGIN.
 */
export function lockCommandsSql(idLiterals: string[]): string {
  return `SELECT pg_try_advisory_xact_lock(${commandLockKey('t.id')})
FROM unnest(ARRAY[${idLiterals.join(',')}]::text[]) WITH ORDINALITY AS t(id, n)
ORDER BY t.n`;
}

/** Waits for the advisory lock of one command (bounded by statement_timeout). */
export function waitForCommandSql(idLiteral: string): string {
  return `SELECT pg_advisory_xact_lock(${commandLockKey(`${idLiteral}::text`)})`;
}

/**
 * Applies reports of distinct commands in one statement, after their advisory locks (arrays $1 to
 * $13, one element per report; $14 the default deadline in seconds):
 * - prev: the commands that exist, locked (FOR UPDATE). In a batch (`skipLocked`) a command whose
 *   row another session holds is skipped and comes back `busy`, to be applied alone, waiting;
 * - verdict: the rank rule, and a mismatch when the command belongs to another device or names
 *   another serviceId/method (nothing is written then);
 * - updated: a higher rank is applied; a report carrying details (serviceId, method, paras,
 *   deadline) fills the ones the command lacks, and an explicit deadline replaces the old one;
 * - inserted: a command not seen before is created. If another session created it after this
 *   statement's snapshot, nothing is written and the report comes back `busy` too;
 * - recorded: every report not refused is appended to the history.
 * The stored JSON (api_json) is rendered by the commands table's trigger.
 */
export function applyReportsSql(skipLocked: boolean): string {
  return `
WITH input AS (
  SELECT t.*,
         COALESCE(t.deadline_at, now() + make_interval(secs => COALESCE(t.timeout_seconds, $14::integer)))
           AS deadline,
         (t.deadline_at IS NOT NULL OR t.timeout_seconds IS NOT NULL) AS explicit_deadline
  FROM unnest($1::text[], $2::text[], $3::text[], $4::smallint[], $5::text[], $6::text[], $7::text[],
              $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::integer[], $13::boolean[])
       WITH ORDINALITY
       AS t(command_id, device_id, status, rank, result_detail, payload, source,
            service_id, method, paras, deadline_at, timeout_seconds, details, n)
),
present AS (
  SELECT c.command_id FROM commands c WHERE c.command_id = ANY($1::text[])
),
prev AS (
  SELECT c.command_id, c.device_id, c.status, c.rank, c.service_id, c.method, c.version
  FROM commands c WHERE c.command_id = ANY($1::text[])
  FOR UPDATE OF c${skipLocked ? ' SKIP LOCKED' : ''}
),
verdict AS (
  SELECT i.*, p.status AS previous_status, p.version AS previous_version,
    (p.command_id IS NULL AND s.command_id IS NOT NULL) AS busy,
    CASE
      WHEN p.command_id IS NULL THEN NULL
      WHEN p.device_id <> i.device_id THEN 'deviceId'
      WHEN p.service_id <> i.service_id THEN 'serviceId'
      WHEN p.method <> i.method THEN 'method'
    END AS mismatch,
    CASE
      WHEN p.command_id IS NULL THEN 'created'
      WHEN i.rank > p.rank THEN 'applied'
      WHEN i.status = p.status THEN 'duplicate'
      WHEN i.rank < p.rank THEN 'stale'
      ELSE 'conflict'
    END AS outcome
  FROM input i LEFT JOIN prev p USING (command_id) LEFT JOIN present s USING (command_id)
),
updated AS (
  UPDATE commands c SET
    status        = CASE WHEN v.rank > c.rank THEN v.status ELSE c.status END,
    rank          = GREATEST(v.rank, c.rank),
    result_detail = CASE WHEN v.rank > c.rank THEN v.result_detail::jsonb ELSE c.result_detail END,
    sent_at       = CASE WHEN v.rank > c.rank AND v.status = 'SENT' THEN COALESCE(c.sent_at, now()) ELSE c.sent_at END,
    delivered_at  = CASE WHEN v.rank > c.rank AND v.status = 'DELIVERED' THEN COALESCE(c.delivered_at, now()) ELSE c.delivered_at END,
    completed_at  = CASE WHEN v.rank > c.rank AND v.rank >= 3 THEN COALESCE(c.completed_at, now()) ELSE c.completed_at END,
    version       = c.version + CASE WHEN v.rank > c.rank THEN 1 ELSE 0 END,
    updated_at    = now(),
    service_id    = COALESCE(c.service_id, v.service_id),
    method        = COALESCE(c.method, v.method),
    paras         = COALESCE(c.paras, v.paras::jsonb),
    deadline      = CASE WHEN v.explicit_deadline THEN v.deadline ELSE c.deadline END
  FROM verdict v
  WHERE c.command_id = v.command_id AND NOT v.busy AND v.mismatch IS NULL
    AND v.outcome <> 'created' AND (v.rank > c.rank OR v.details)
  RETURNING c.command_id, c.status, c.version
),
inserted AS (
  INSERT INTO commands AS c (
    command_id, device_id, status, rank, result_detail, service_id, method, paras,
    created_at, updated_at, deadline, sent_at, delivered_at, completed_at, version)
  SELECT v.command_id, v.device_id, v.status, v.rank, v.result_detail::jsonb, v.service_id,
         v.method, v.paras::jsonb, now(), now(), v.deadline,
         CASE WHEN v.status = 'SENT' THEN now() END,
         CASE WHEN v.status = 'DELIVERED' THEN now() END,
         CASE WHEN v.rank >= 3 THEN now() END,
         1
  FROM verdict v
  WHERE v.outcome = 'created' AND NOT v.busy
  ORDER BY v.command_id
  ON CONFLICT (command_id) DO NOTHING
  RETURNING c.command_id, c.status, c.version
),
recorded AS (
  INSERT INTO command_history (
    command_id, status, outcome, source, previous_status, version, result_detail, payload, received_at)
  SELECT v.command_id, v.status,
         CASE WHEN v.outcome = 'created' THEN 'applied' ELSE v.outcome END,
         v.source, v.previous_status, COALESCE(u.version, n.version, v.previous_version),
         v.result_detail::jsonb, v.payload::jsonb, now()
  FROM verdict v LEFT JOIN updated u USING (command_id) LEFT JOIN inserted n USING (command_id)
  WHERE NOT v.busy AND v.mismatch IS NULL AND (v.outcome <> 'created' OR n.command_id IS NOT NULL)
  ORDER BY v.n
  RETURNING id, command_id, received_at
)
SELECT v.outcome, v.mismatch, v.previous_status,
       (v.busy OR (v.outcome = 'created' AND v.mismatch IS NULL AND n.command_id IS NULL)) AS busy,
       COALESCE(u.status, n.status, v.previous_status) AS status,
       COALESCE(u.version, n.version, v.previous_version) AS version,
       r.id::text AS event_id, r.received_at
FROM verdict v
  LEFT JOIN updated u USING (command_id)
  LEFT JOIN inserted n USING (command_id)
  LEFT JOIN recorded r USING (command_id)
ORDER BY v.n`;
}
