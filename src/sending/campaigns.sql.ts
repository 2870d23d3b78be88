// The campaigns' statements, one per intent. A campaign's dispatch waits unreleased as a queued
// row whose next attempt is HELD_UNTIL, so the sender never claims it; releasing sets its
// released_at and makes it due.

export const HELD_UNTIL = '9999-01-01T00:00:00.000Z';

export interface CampaignRow {
  campaign_id: string;
  request_hash: string;
  name: string;
  command: Record<string, unknown>;
  rate_per_minute: number;
  canary: { devices: number; minSuccessPercent: number } | null;
  abort: { failurePercent: number; minResults: number } | null;
  start_at: Date | null;
  end_at: Date | null;
  state: string;
  abort_reason: string | null;
  devices: number;
  created_at: Date;
  updated_at: Date;
  /** [dispatch state, command status or null, count] of every dispatch of the campaign. */
  counts: [string, string | null, number][];
}

// Counts by dispatch state and command status, through the campaign's index on dispatches and
// the commands' primary key, in the same snapshot as the campaign row.
const CAMPAIGN_COLUMNS = `k.campaign_id, k.request_hash, k.name, k.command, k.rate_per_minute,
  k.canary, k.abort, k.start_at, k.end_at, k.state, k.abort_reason, k.devices, k.created_at,
  k.updated_at,
  (SELECT COALESCE(json_agg(json_build_array(g.state, g.status, g.n)), '[]')
   FROM (SELECT d.state, c.status, count(*)::int AS n
         FROM dispatches d LEFT JOIN commands c ON c.command_id = d.command_id
         WHERE d.campaign_id = k.campaign_id
         GROUP BY d.state, c.status) g) AS counts`;

export const FIND_SQL = `SELECT ${CAMPAIGN_COLUMNS} FROM campaigns k WHERE k.campaign_id = $1`;

export const LIST_SQL = `
SELECT ${CAMPAIGN_COLUMNS} FROM campaigns k
WHERE ($1::text IS NULL OR k.state = $1)
  AND ($2::timestamptz IS NULL OR (k.created_at, k.campaign_id) < ($2::timestamptz, $3::text))
ORDER BY k.created_at DESC, k.campaign_id DESC
LIMIT $4`;

// The campaign and its dispatches, one per device in the order given, in one statement. A
// dispatch's id is the campaign's (a random UUID) with its last 12 digits the device's place in
// hex: still a UUID, unique (a retry's dispatches get random ones), and ascending, so that 100,000
// of them go to the end of the primary key's index instead of to random pages (on the embedded
// database 2.4 times faster to create: 3.7 s instead of 8.9 s, measured under load).
export const CREATE_SQL = `
WITH campaign AS (
  INSERT INTO campaigns (campaign_id, idempotency_key, request_hash, name, command,
    rate_per_minute, canary, abort, start_at, end_at, state, devices, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
    CASE WHEN $9::timestamptz > now() THEN 'scheduled' ELSE 'running' END, $11, now(), now())
  ON CONFLICT (idempotency_key) DO NOTHING
  RETURNING campaign_id, command
),
inserted AS (
  INSERT INTO dispatches (dispatch_id, request_hash, device_id, service_id, method, paras,
    timeout_seconds, send_strategy, mode, campaign_id, not_before, send_by, state,
    next_attempt_at, created_at, updated_at)
  SELECT substr(k.campaign_id, 1, 24) || lpad(to_hex(given.n), 12, '0'), $3, given.device_id,
    k.command->>'serviceId', k.command->>'method', k.command->'paras', (k.command->>'timeoutSeconds')::integer,
    'immediately', k.command->>'mode', k.campaign_id, $13, $14, 'queued',
    '${HELD_UNTIL}', now(), now()
  FROM campaign k, unnest($12::text[]) WITH ORDINALITY AS given(device_id, n)
  ORDER BY given.n
  RETURNING 1
)
SELECT campaign_id FROM campaign`;

// The campaign's budget refilled at rate_per_minute (at most two seconds' worth, and at least one
// token, is kept, so that a pass delayed by a busy database loses nothing), and as many held dispatches released, in device order, as it holds tokens;
// while a canary is undecided, no more than its devices. The campaign row's lock makes the
// instances take from the budget one at a time.
export const RELEASE_SQL = `
WITH k AS (
  SELECT campaign_id, clock_timestamp() AS at,
    LEAST(GREATEST(1, rate_per_minute / 30.0),
      tokens + EXTRACT(EPOCH FROM clock_timestamp() - COALESCE(refilled_at, clock_timestamp()))
        * rate_per_minute / 60.0) AS available,
    CASE WHEN canary IS NOT NULL AND NOT canary_passed
      THEN GREATEST(0, (canary->>'devices')::int - released) END AS canary_room
  FROM campaigns
  WHERE campaign_id = $1 AND state = 'running' AND (end_at IS NULL OR end_at > now())
  FOR UPDATE
),
picked AS (
  SELECT d.dispatch_id, d.seq FROM dispatches d
  WHERE d.campaign_id = $1 AND d.campaign_id IS NOT NULL AND d.released_at IS NULL
    AND d.state = 'queued' AND EXISTS (SELECT 1 FROM k)
  ORDER BY d.seq
  -- $2, the most this campaign's pass may release, alone: a parameter the planner reads, so that
  -- it expects a few rows and updates them through the primary key. With the bound computed in
  -- the statement it expected a tenth of the campaign and scanned every dispatch to join them.
  LIMIT $2::int
),
chosen AS (
  SELECT dispatch_id FROM picked ORDER BY seq
  -- No campaign row (paused, past endAt, ...) releases nothing: LIMIT NULL would be no limit.
  LIMIT COALESCE(
    (SELECT LEAST(floor(available), COALESCE(canary_room, floor(available)))::int FROM k), 0)
),
released AS (
  -- The campaign's row lock (k) keeps passes one at a time; a dispatch canceled meanwhile (its
  -- state rechecked on the row as it is updated) is not released.
  UPDATE dispatches q
  SET released_at = (SELECT at FROM k), next_attempt_at = GREATEST(q.not_before, now()),
      updated_at = now()
  FROM chosen WHERE q.dispatch_id = chosen.dispatch_id AND q.state = 'queued'
    AND q.released_at IS NULL
  RETURNING 1
),
n AS (SELECT count(*)::int AS n FROM released)
UPDATE campaigns c
SET tokens = (SELECT available FROM k) - (SELECT n FROM n),
    refilled_at = (SELECT at FROM k),
    released = c.released + (SELECT n FROM n)
WHERE c.campaign_id = $1 AND EXISTS (SELECT 1 FROM k)
RETURNING (SELECT n FROM n) AS released`;

export const START_SQL = `
UPDATE campaigns SET state = 'running', refilled_at = NULL, tokens = 1, updated_at = now()
WHERE state = 'scheduled' AND (start_at IS NULL OR start_at <= now())`;

// The canary: the campaign's first $2 dispatches; open while queued, sending, or sent with a
// command below rank 3.
export const CANARY_SQL = `
SELECT count(*) FILTER (WHERE d.state IN ('queued', 'sending')
                          OR (d.state = 'sent' AND (c.rank IS NULL OR c.rank < 3))) AS open,
       count(*) FILTER (WHERE c.status = 'SUCCESSFUL') AS successful,
       count(*) AS total
FROM (SELECT state, command_id FROM dispatches WHERE campaign_id = $1 ORDER BY seq LIMIT $2) d
LEFT JOIN commands c ON c.command_id = d.command_id`;

// Each device's latest dispatch in the campaign (a retried device counts once, by its retry): a
// result is a command of rank 3 or 4, or a dispatch that failed or expired; a failure is a result
// that is not SUCCESSFUL.
export const RESULTS_SQL = `
SELECT count(*) FILTER (WHERE final) AS results,
       count(*) FILTER (WHERE final AND status IS DISTINCT FROM 'SUCCESSFUL') AS failures
FROM (
  SELECT DISTINCT ON (d.device_id) c.status,
    (d.state IN ('failed', 'expired') OR (d.state = 'sent' AND c.rank >= 3)) AS final
  FROM dispatches d LEFT JOIN commands c ON c.command_id = d.command_id
  WHERE d.campaign_id = $1
  ORDER BY d.device_id, d.seq DESC
) latest`;

// Aborts or cancels: the campaign's queued dispatches (not one whose lost answer is being
// searched for: it may be on the platform already) are canceled with it.
export const ABORT_SQL = `
WITH k AS (
  UPDATE campaigns SET state = $3, abort_reason = $4, updated_at = now()
  WHERE campaign_id = $1 AND state = ANY($2::text[])
  RETURNING campaign_id
),
canceled AS (
  UPDATE dispatches SET state = 'canceled', updated_at = now()
  WHERE campaign_id = (SELECT campaign_id FROM k) AND state = 'queued' AND intent_id IS NULL
  RETURNING 1
)
SELECT (SELECT count(*) FROM k) AS changed, (SELECT count(*) FROM canceled) AS canceled`;

// Released dispatches not sent yet are held again, and released again in order on resume.
export const PAUSE_SQL = `
WITH k AS (
  UPDATE campaigns SET state = 'paused', updated_at = now()
  WHERE campaign_id = $1 AND state IN ('scheduled', 'running')
  RETURNING campaign_id
),
held AS (
  UPDATE dispatches SET released_at = NULL, next_attempt_at = '${HELD_UNTIL}', updated_at = now()
  WHERE campaign_id = (SELECT campaign_id FROM k) AND state = 'queued' AND intent_id IS NULL
    AND released_at IS NOT NULL
  RETURNING 1
),
recount AS (
  UPDATE campaigns SET released = released - (SELECT count(*) FROM held)
  WHERE campaign_id = (SELECT campaign_id FROM k)
  RETURNING 1
)
SELECT (SELECT count(*) FROM k) AS changed, (SELECT count(*) FROM recount) AS recounted`;

export const RESUME_SQL = `
UPDATE campaigns
SET state = CASE WHEN start_at > now() THEN 'scheduled' ELSE 'running' END,
    refilled_at = NULL, tokens = 1, updated_at = now()
WHERE campaign_id = $1 AND state = 'paused'
RETURNING campaign_id`;

// New held dispatches for the devices whose latest dispatch failed or expired, or whose command
// ended FAILED or TIMEOUT; a completed or aborted campaign runs again to send them, its canary
// (if any) taken as decided by whoever asked for the retry.
export const RETRY_FAILED_SQL = `
WITH k AS (
  SELECT campaign_id, command, request_hash FROM campaigns
  WHERE campaign_id = $1 AND state <> 'canceled'
  FOR UPDATE
),
latest AS (
  SELECT DISTINCT ON (d.device_id) d.device_id, d.seq, d.state, c.status
  FROM dispatches d LEFT JOIN commands c ON c.command_id = d.command_id
  WHERE d.campaign_id = $1
  ORDER BY d.device_id, d.seq DESC
),
inserted AS (
  INSERT INTO dispatches (dispatch_id, request_hash, device_id, service_id, method, paras,
    timeout_seconds, send_strategy, mode, campaign_id, not_before, send_by, state,
    next_attempt_at, created_at, updated_at)
  SELECT gen_random_uuid()::text, k.request_hash, l.device_id, k.command->>'serviceId',
    k.command->>'method', k.command->'paras', (k.command->>'timeoutSeconds')::integer,
    'immediately', k.command->>'mode', k.campaign_id, now(), $2, 'queued',
    '${HELD_UNTIL}', now(), now()
  FROM k, latest l
  WHERE l.state IN ('failed', 'expired') OR l.status IN ('FAILED', 'TIMEOUT')
  ORDER BY l.seq
  RETURNING 1
),
rerun AS (
  UPDATE campaigns
  SET state = CASE WHEN state IN ('completed', 'aborted') THEN 'running' ELSE state END,
      abort_reason = CASE WHEN state IN ('completed', 'aborted') THEN NULL ELSE abort_reason END,
      canary_passed = true, updated_at = now()
  WHERE campaign_id = (SELECT campaign_id FROM k) AND (SELECT count(*) FROM inserted) > 0
  RETURNING 1
)
SELECT (SELECT count(*) FROM inserted) AS created, (SELECT count(*) FROM rerun) AS rerun`;

export const COMPLETE_SQL = `
UPDATE campaigns k SET state = 'completed', updated_at = now()
WHERE k.campaign_id = $1 AND k.state = 'running'
  AND NOT EXISTS (
    SELECT 1 FROM dispatches d LEFT JOIN commands c ON c.command_id = d.command_id
    WHERE d.campaign_id = $1
      AND (d.state IN ('queued', 'sending') OR (d.state = 'sent' AND (c.rank IS NULL OR c.rank < 3))))`;
