import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * apply_reports: the write path's statement as a function, so that a batch of reports is locked,
 * applied and committed in one round trip (one statement in an implicit transaction) instead of
 * three (BEGIN with the locks, the statement, COMMIT). The rank rule lives here.
 *
 * The change feed reads in (xid, id) order and needs: if a transaction writes a command after
 * another one wrote it, its xid is the higher. A transaction gets its xid at its first write or row
 * lock, so the function first takes one transaction-level advisory lock per command in a statement
 * of its own, before any write or row lock. Whoever holds a command's advisory lock is then the
 * only writer of it until its commit, and it got its xid after the previous holder's. A function
 * declared VOLATILE runs each statement on a new snapshot, so the writes see everything the
 * previous holder committed.
 *
 * Arguments are arrays, one element per report ($1 to $13), of distinct commands; $14 is the
 * default deadline in seconds; $15 says whether to wait for locks held elsewhere (one report,
 * applied alone) or to skip such commands (a batch: they come back `busy`, to be applied alone);
 * $16 is the time budget in milliseconds (null: none): lock waits end there, and a call that
 * finishes at or past it raises SQLSTATE CT001 and so writes nothing, because its caller has stopped
 * waiting.
 *
 * The statement, per report:
 * - prev: the commands that exist, row-locked. A command whose row another session holds is
 *   skipped (waited for beforehand when $15) and comes back `busy`;
 * - verdict: the rank rule, and a mismatch when the command belongs to another device or names
 *   another serviceId/method (nothing is written then);
 * - updated: a higher rank is applied; a report carrying details (serviceId, method, paras,
 *   deadline) fills the ones the command lacks, and an explicit deadline replaces the old one;
 * - inserted: a command not seen before is created. If another session created it after this
 *   statement's snapshot, nothing is written and the report comes back `busy` too;
 * - recorded: every report not refused is appended to the history.
 * The stored JSON (api_json) is rendered by the commands table's trigger.
 *
 * Plans are generic and never sequential scans: every lookup is by primary key, and a plan made
 * while the table was small would otherwise keep scanning it as it grows.
 */
export class ApplyReportsFunction1796600000000 implements MigrationInterface {
  name = 'ApplyReportsFunction1796600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
CREATE FUNCTION apply_reports(
  text[], text[], text[], smallint[], text[], text[], text[], text[], text[], text[],
  timestamptz[], integer[], boolean[], integer, boolean, integer)
RETURNS TABLE (outcome text, mismatch text, previous_status text, busy boolean, status text,
               version integer, event_id text, received_at timestamptz)
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_column
DECLARE
  blocked text[] := '{}';
BEGIN
  IF $16 IS NOT NULL THEN
    PERFORM set_config('lock_timeout', GREATEST($16, 1) || 'ms', true);
  END IF;
  IF $15 THEN
    PERFORM pg_advisory_xact_lock(hashtextextended(t.id, 0))
    FROM unnest($1) AS t(id) ORDER BY t.id;
    PERFORM 1 FROM commands c WHERE c.command_id = ANY($1) ORDER BY c.command_id FOR UPDATE OF c;
  ELSE
    SELECT COALESCE(array_agg(t.id), '{}') INTO blocked
    FROM unnest($1) AS t(id)
    WHERE NOT pg_try_advisory_xact_lock(hashtextextended(t.id, 0));
  END IF;

  RETURN QUERY
  WITH input AS (
    SELECT t.*,
           COALESCE(t.deadline_at, now() + make_interval(secs => COALESCE(t.timeout_seconds, $14)))
             AS deadline,
           (t.deadline_at IS NOT NULL OR t.timeout_seconds IS NOT NULL) AS explicit_deadline,
           t.command_id = ANY(blocked) AS is_blocked
    FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) WITH ORDINALITY
         AS t(command_id, device_id, status, rank, result_detail, payload, source,
              service_id, method, paras, deadline_at, timeout_seconds, details, n)
  ),
  present AS (
    SELECT c.command_id FROM commands c WHERE c.command_id = ANY($1)
  ),
  prev AS (
    SELECT c.command_id, c.device_id, c.status, c.rank, c.service_id, c.method, c.version
    FROM commands c WHERE c.command_id = ANY($1) AND NOT c.command_id = ANY(blocked)
    FOR UPDATE OF c SKIP LOCKED
  ),
  verdict AS (
    SELECT i.*, p.status AS previous_status, p.version AS previous_version,
      (i.is_blocked OR (p.command_id IS NULL AND s.command_id IS NOT NULL)) AS busy,
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
         (v.busy OR (v.outcome = 'created' AND v.mismatch IS NULL AND n.command_id IS NULL)),
         COALESCE(u.status, n.status, v.previous_status),
         COALESCE(u.version, n.version, v.previous_version),
         r.id::text, r.received_at::timestamptz
  FROM verdict v
    LEFT JOIN updated u USING (command_id)
    LEFT JOIN inserted n USING (command_id)
    LEFT JOIN recorded r USING (command_id)
  ORDER BY v.n;

  IF $16 IS NOT NULL AND clock_timestamp() >= statement_timestamp() + $16 * interval '1 millisecond' THEN
    RAISE EXCEPTION 'the reports could not be applied within % ms', $16 USING ERRCODE = 'CT001';
  END IF;
END
$fn$`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP FUNCTION apply_reports(text[], text[], text[], smallint[], text[], text[], text[],
         text[], text[], text[], timestamptz[], integer[], boolean[], integer, boolean, integer)`,
    );
  }
}
