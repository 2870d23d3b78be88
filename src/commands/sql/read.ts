/** A timestamptz as text the way docs/api.md gives times: ISO 8601 UTC with milliseconds. */
const isoTime = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

// The read path's SQL. Reads leave PostgreSQL as the response's JSON text: Node.js then neither
// parses rows into objects (jsonb columns included) nor serialises them again. A command's own JSON
// is stored with it (the column api_json, which a trigger renders on every write: migration
// CommandApiJson); history entries are rendered here. Keys are in docs/api.md's order, no whitespace.
//
// Every response stays bounded, whatever was stored: a history entry holds a payload of up to
// BODY_LIMIT_BYTES, and a command its resultDetail and paras. The bounds are applied in
// PostgreSQL, with a running size over the rows in the response's order, so that Node.js never
// receives more than it sends.

/** A response body's size bound in bytes of JSON (UTF-8): 4 MB. */
export const MAX_RESPONSE_BYTES = 4_000_000;

/** GET /commands/{commandId} includes at most this many history entries, the latest. */
export const MAX_LOOKUP_HISTORY_ENTRIES = 1000;

// Room in a page's budget for what surrounds its items: `{"items":[`, `],"nextCursor":` and a
// cursor of two ids of up to 128 characters (4 bytes each in UTF-8), base64url-encoded.
const PAGE_FRAME_BYTES = 2048;

/** The bytes a page's items (each with its separating comma) may take. */
export const PAGE_ITEMS_BUDGET = MAX_RESPONSE_BYTES - PAGE_FRAME_BYTES;

/** JSON text of a time (see isoTime); NULL stays NULL. */
const jsonTime = (column: string) => `'"' || ${isoTime(column)} || '"'`;

/** JSON text of any SQL value: to_json escapes strings as JSON does; NULL stays NULL. */
const jsonValue = (expression: string) => `to_json(${expression})::text`;

/** `{"key":value,...}` from expressions that give JSON text or NULL (written as null). */
function jsonObject(fields: [key: string, json: string][]): string {
  return fields
    .map(
      ([key, json], index) => `'${index === 0 ? '{' : ','}"${key}":' || COALESCE(${json}, 'null')`,
    )
    .concat(`'}'`)
    .join(' || ');
}

/** A command_history row `h` as the JSON of a history entry. */
const HISTORY_ENTRY_JSON = jsonObject([
  ['id', `'"' || h.id || '"'`],
  ['status', jsonValue('h.status')],
  ['outcome', jsonValue('h.outcome')],
  ['source', jsonValue('h.source')],
  ['resultDetail', 'h.result_detail::text'],
  ['payload', 'h.payload::text'],
  ['receivedAt', jsonTime('h.received_at')],
]);

/**
 * The entries of a command's history from one end, one at a time off the index on (command_id, id),
 * each rendered once with the running count (n) and size (bytes, each entry with a separating
 * comma) of the walk so far. The walk goes on while the last entry is within `limit` and `budget`
 * (or is the first, which is sent whatever its size), so it ends with the first entry past either,
 * if there is one: it never renders more than one entry beyond what is sent, however large the
 * history. `from` is the condition on the first entry's id; each next one is the neighbour of the
 * previous (w.id) in `order`.
 */
function historyWalk(options: {
  order: 'ASC' | 'DESC';
  from: string;
  limit: string;
  budget: string;
}): string {
  const step = options.order === 'ASC' ? 'h.id > w.id' : 'h.id < w.id';
  const entry = (condition: string) => `
    SELECT h.id, ${HISTORY_ENTRY_JSON} AS json
    FROM command_history h
    WHERE h.command_id = $1 AND ${condition}
    ORDER BY h.id ${options.order}
    LIMIT 1`;
  return `walk(id, json, n, bytes) AS (
  SELECT e.id, e.json, 1, octet_length(e.json) + 1
  FROM (${entry(options.from)}) e
  UNION ALL
  SELECT e.id, e.json, w.n + 1, w.bytes + octet_length(e.json) + 1
  FROM walk w CROSS JOIN LATERAL (${entry(step)}) e
  WHERE w.n <= ${options.limit} AND (w.n = 1 OR w.bytes <= ${options.budget})
)`;
}

// What a lookup adds to the command's JSON besides the entries: `,"historyTruncated":false` and
// `,"history":[]`.
const LOOKUP_FRAME_BYTES = 64;

// A history of at most this many entries is rendered whole at once, as the common case.
const SHORT_HISTORY_ENTRIES = 32;

/**
 * GET /commands/{commandId}'s body: the command, `historyTruncated`, and its latest history entries
 * oldest first: at most MAX_LOOKUP_HISTORY_ENTRIES, and only as many as keep the whole body within
 * MAX_RESPONSE_BYTES (the budget). No row when the command is unknown.
 *
 * Most histories are short: their first SHORT_HISTORY_ENTRIES + 1 entries are rendered in one
 * index scan, and when that is all of them and they fit, they are the answer. Otherwise the walk
 * goes newest first and ends past the bounds (CASE evaluates only the branch it takes).
 */
export const FIND_WITH_HISTORY_SQL = `
WITH RECURSIVE command AS (
  SELECT c.api_json,
         ${MAX_RESPONSE_BYTES - LOOKUP_FRAME_BYTES} - octet_length(c.api_json) AS budget
  FROM commands c
  WHERE c.command_id = $1
),
short AS MATERIALIZED (
  SELECT cardinality(first.entries) AS entries, array_to_string(first.entries, ',') AS history
  FROM (
    SELECT ARRAY(
      SELECT ${HISTORY_ENTRY_JSON}
      FROM command_history h
      WHERE h.command_id = $1
      ORDER BY h.id
      LIMIT ${SHORT_HISTORY_ENTRIES + 1}
    ) AS entries
    OFFSET 0
  ) first
),
${historyWalk({
  order: 'DESC',
  from: 'true',
  limit: String(MAX_LOOKUP_HISTORY_ENTRIES),
  budget: '(SELECT budget FROM command)',
})}
SELECT left(c.api_json, -1) || CASE
         WHEN short.entries <= ${SHORT_HISTORY_ENTRIES} AND octet_length(short.history) <= c.budget
         THEN ',"historyTruncated":false,"history":[' || short.history || ']}'
         ELSE ',"historyTruncated":'
           || (EXISTS (SELECT 1 FROM walk w
                       WHERE w.n > ${MAX_LOOKUP_HISTORY_ENTRIES} OR w.bytes > c.budget))::text
           || ',"history":[' || array_to_string(ARRAY(
                SELECT w.json FROM walk w
                WHERE w.n <= ${MAX_LOOKUP_HISTORY_ENTRIES} AND w.bytes <= c.budget
                ORDER BY w.id
              ), ',') || ']}'
       END AS json
FROM command c CROSS JOIN short`;

/**
 * A page of a command's history, oldest first, after the entry $2 (0 for the first page): at most
 * $3 entries, and fewer when they would pass PAGE_ITEMS_BUDGET (never none while any is left).
 * Gives whether the command is known, the page's entries as JSON text (`{...},{...}`), the id of
 * its last entry, and whether more follow (the walk went past the page).
 */
export const HISTORY_PAGE_SQL = `
WITH RECURSIVE ${historyWalk({
  order: 'ASC',
  from: 'h.id > $2::bigint',
  limit: '$3::integer',
  budget: String(PAGE_ITEMS_BUDGET),
})},
sent AS (
  SELECT id, json FROM walk
  WHERE n <= $3::integer AND (n = 1 OR bytes <= ${PAGE_ITEMS_BUDGET})
)
SELECT EXISTS (SELECT 1 FROM commands c WHERE c.command_id = $1) AS known,
       array_to_string(ARRAY(SELECT json FROM sent ORDER BY id), ',') AS items_json,
       (SELECT max(id) FROM sent)::text AS last_id,
       (SELECT count(*) FROM walk) > (SELECT count(*) FROM sent) AS more`;

/** Filters of a GET /commands page, parsed. */
export interface ListFilter {
  deviceId?: string;
  statuses?: string[];
  since?: Date;
  until?: Date;
  /** Commands sent by this campaign's dispatches. */
  campaignId?: string;
  /** Keyset: the last command of the previous page. */
  after?: { createdAt: Date; commandId: string };
  limit: number;
}

// Page sizes whose list statements are prepared under a name. The size is part of the statement's
// text, not a parameter: with `LIMIT $n` PostgreSQL cannot cost a generic plan and plans the
// statement again on every execution. Other sizes are valid too, sent unnamed: parsed and planned
// each time, and the number of statements a connection keeps stays bounded.
const PREPARED_PAGE_SIZES = new Set([10, 20, 25, 50, 100, 200, 500]);

/**
 * The statement of a list page: conditions for the filters given, newest first. Each row is one
 * command's stored JSON, which Node.js joins into the page; rows rather than one aggregated text,
 * because aggregating a page makes each execution allocate and free enough for glibc to shrink
 * the backend's heap every time, which costs far more than the rows.
 *
 * The rows are the page's commands and then at most one more, whose JSON is NULL: it says that
 * another page follows, either because the page is full or because the next command would take
 * the page past PAGE_ITEMS_BUDGET (a page always holds at least one command, so the second row is
 * always kept to say so). A command's size is octet_length, which reads the stored length without
 * decompressing the text.
 *
 * It is named by which filters are present and the page size, to be prepared once.
 */
export function listStatement(filter: ListFilter): {
  name: string | undefined;
  text: string;
  values: unknown[];
} {
  const conditions: string[] = [];
  const values: unknown[] = [];
  const param = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  let shape = 'list';
  if (filter.deviceId !== undefined) {
    conditions.push(`c.device_id = ${param(filter.deviceId)}`);
    shape += '_device';
  }
  if (filter.statuses !== undefined) {
    conditions.push(`c.status = ANY(${param(filter.statuses)}::text[])`);
    shape += '_status';
  }
  if (filter.since !== undefined) {
    conditions.push(`c.created_at >= ${param(filter.since)}`);
    shape += '_since';
  }
  if (filter.until !== undefined) {
    conditions.push(`c.created_at < ${param(filter.until)}`);
    shape += '_until';
  }
  if (filter.campaignId !== undefined) {
    conditions.push(
      `c.command_id IN (SELECT d.command_id FROM dispatches d
         WHERE d.campaign_id = ${param(filter.campaignId)} AND d.command_id IS NOT NULL)`,
    );
    shape += '_campaign';
  }
  if (filter.after !== undefined) {
    // The keyset through a sub-SELECT: the index scan takes its values at run time all the same,
    // but the planner cannot see them, so the statement gets one generic plan instead of being
    // planned again for each cursor's estimated rows.
    conditions.push(
      `(c.created_at, c.command_id) < (SELECT ${param(filter.after.createdAt)}::timestamptz, ${param(filter.after.commandId)}::text)`,
    );
    shape += '_after';
  }
  const limit = filter.limit;
  if (!PREPARED_PAGE_SIZES.has(limit)) {
    return { name: undefined, text: listText(conditions, limit), values };
  }
  const name = `${shape}_${limit}`;
  let text = LIST_TEXTS.get(name);
  if (text === undefined) {
    text = listText(conditions, limit);
    LIST_TEXTS.set(name, text);
  }
  return { name, text, values };
}

// The text of each named list statement, made once.
const LIST_TEXTS = new Map<string, string>();

function listText(conditions: string[], limit: number): string {
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  return `
SELECT CASE WHEN n <= ${limit} AND (n = 1 OR bytes <= ${PAGE_ITEMS_BUDGET}) THEN api_json END
FROM (
  SELECT c.api_json,
         row_number() OVER newest_first AS n,
         sum(octet_length(c.api_json) + 1) OVER newest_first AS bytes
  FROM commands c ${where}
  WINDOW newest_first AS (ORDER BY c.created_at DESC, c.command_id DESC ROWS UNBOUNDED PRECEDING)
  ORDER BY c.created_at DESC, c.command_id DESC
  LIMIT ${limit + 1}
) page
WHERE n <= 2 OR bytes - octet_length(api_json) - 1 <= ${PAGE_ITEMS_BUDGET}`;
}
