// The change feed's SQL. A history row is passed to the feed only once the transaction that wrote
// it (command_history.xid) is older than every transaction still running, i.e. below the xmin of a
// fresh snapshot: every transaction that could still write a row with a smaller (xid, id) has ended
// by then, so a reader that moves forward in (xid, id) order never has to look back.

/** The current cut: rows of transactions below it are final. */
export const FEED_CUT_SQL = `SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`;

// As docs/api.md gives times: ISO 8601 UTC with milliseconds.
const RECEIVED_AT = `to_char(h.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const CHANGE_COLUMNS = `
  h.xid::text AS xid, h.id::text AS id, h.command_id, c.device_id, h.status, h.previous_status,
  h.source, h.version, ${RECEIVED_AT} AS received_at`;

/**
 * Up to $3 applied changes after the position ($1, $2) whose transactions are below the cut, in
 * feed order, with the cut itself (every row carries it; with no change, one row of NULLs but it).
 */
export const FEED_READ_SQL = `
WITH cut AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin)
SELECT cut.xmin::text AS cut, f.xid::text AS xid, f.id::text AS id, f.command_id, f.device_id,
       f.status, f.previous_status, f.source, f.version, f.received_at
FROM cut LEFT JOIN LATERAL (
  SELECT h.xid, h.id, h.command_id, c.device_id, h.status, h.previous_status, h.source, h.version,
         ${RECEIVED_AT} AS received_at
  FROM command_history h JOIN commands c ON c.command_id = h.command_id
  WHERE (h.xid, h.id) > ($1::bigint, $2::bigint) AND h.xid < cut.xmin AND h.outcome = 'applied'
  ORDER BY h.xid, h.id
  LIMIT $3
) f ON true
ORDER BY f.xid, f.id`;

/**
 * Replay: up to $7 applied changes after ($1, $2) and up to ($3, $4), a position the reader has
 * already passed (so every row up to it is committed), matching the filters $5 (deviceId) and
 * $6 (commandId), in feed order.
 */
export const FEED_REPLAY_SQL = `
SELECT ${CHANGE_COLUMNS}
FROM command_history h JOIN commands c ON c.command_id = h.command_id
WHERE (h.xid, h.id) > ($1::bigint, $2::bigint) AND (h.xid, h.id) <= ($3::bigint, $4::bigint)
  AND h.outcome = 'applied'
  AND ($5::text IS NULL OR c.device_id = $5::text)
  AND ($6::text IS NULL OR h.command_id = $6::text)
ORDER BY h.xid, h.id
LIMIT $7`;

/** The transaction of a history row, to resume from a bare history id. */
export const FEED_ROW_XID_SQL = `SELECT xid::text AS xid FROM command_history WHERE id = $1::bigint`;

/**
 * How long the oldest transaction that holds a transaction id has been running, in seconds: changes
 * committed after it began wait for it to end. It may be in any database of the server.
 */
export const FEED_HOLDBACK_SQL = `
SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(xact_start)), 0)::float8 AS seconds
FROM pg_stat_activity WHERE backend_xid IS NOT NULL`;
