// The SQL of the events sinks' cursors and leases (table event_sinks). A sink's row holds the last
// feed position its sink confirmed and the lease of the one instance feeding it; every write of the
// position is fenced by the lease, so an instance that lost its lease cannot move the cursor.
// Updates that report whether they changed a row select from a CTE: TypeORM answers a bare UPDATE
// with [rows, count].

import { FEED_CUT_SQL } from '../feed/feed-statements.js';

/**
 * Takes or renews the lease of sink $1 for holder $2 for $3 ms, creating the row at the feed's
 * current cut (what a new GET /changes stream starts from) when the sink is new. Returns the stored
 * position, or no row while another holder's lease runs.
 */
export const SINK_CLAIM_SQL = `
INSERT INTO event_sinks AS s (sink, position_xid, position_id, holder, lease_until)
SELECT $1, cut.xmin::bigint, 0, $2, now() + $3::int * interval '1 millisecond'
FROM (${FEED_CUT_SQL}) AS cut
ON CONFLICT (sink) DO UPDATE SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until
WHERE s.holder = EXCLUDED.holder OR s.holder IS NULL OR s.lease_until < now()
RETURNING s.position_xid::text AS xid, s.position_id::text AS id`;

/**
 * Renews holder $2's lease of sink $1 for $3 ms; no row when it no longer holds it (also when an
 * operator cleared the holder to make the sink resume from a position: docs/operations.md).
 */
export const SINK_RENEW_SQL = `
WITH renewed AS (
  UPDATE event_sinks SET lease_until = now() + $3::int * interval '1 millisecond'
  WHERE sink = $1 AND holder = $2
  RETURNING sink)
SELECT sink FROM renewed`;

/** Stores position ($3, $4) as confirmed by sink $1, only while holder $2's lease runs. */
export const SINK_ADVANCE_SQL = `
WITH advanced AS (
  UPDATE event_sinks SET position_xid = $3::bigint, position_id = $4::bigint, confirmed_at = now()
  WHERE sink = $1 AND holder = $2 AND lease_until > now()
  RETURNING sink)
SELECT sink FROM advanced`;

/** Gives up holder $2's lease of sink $1, so that another instance takes over at once. */
export const SINK_RELEASE_SQL = `
UPDATE event_sinks SET holder = NULL, lease_until = '-infinity' WHERE sink = $1 AND holder = $2`;

/**
 * Per sink of $1: how long ago its first unconfirmed applied change (in feed order) was received,
 * 0 when there is none.
 */
export const SINK_LAG_SQL = `
SELECT s.sink, COALESCE(EXTRACT(EPOCH FROM now() - (
  SELECT h.received_at FROM command_history h
  WHERE (h.xid, h.id) > (s.position_xid, s.position_id) AND h.outcome = 'applied'
  ORDER BY h.xid, h.id
  LIMIT 1)), 0)::float8 AS seconds
FROM event_sinks s
WHERE s.sink = ANY($1::text[])`;
