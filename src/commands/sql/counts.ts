import { type CommandFilter, filterConditions } from './filters.js';

/** What GET /analytics/counts groups by: none (the total), or one of these. */
export type CountGrouping = 'status' | 'deviceId' | 'command';

// Each grouping's columns and the key's JSON, in the response's order.
const GROUPINGS: Record<CountGrouping, { columns: string; key: string }> = {
  status: { columns: 'c.status', key: `json_build_object('status', c.status)` },
  deviceId: { columns: 'c.device_id', key: `json_build_object('deviceId', c.device_id)` },
  command: {
    columns: 'c.service_id, c.method',
    key: `json_build_object('serviceId', c.service_id, 'method', c.method)`,
  },
};

/**
 * The statement of GET /analytics/counts. Without a grouping, one row: the total. With one, the
 * largest `limit` groups (ties by key, so that an answer is stable), each with the total of every
 * group; no row when nothing matches. Counted in one pass over an index that holds the filters'
 * and the grouping's columns where there is one (migration ReadFilterIndexes).
 */
export function countsStatement(
  filter: CommandFilter,
  groupBy: CountGrouping | undefined,
  limit: number,
): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const { conditions } = filterConditions(filter, values);
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  if (groupBy === undefined) {
    return { text: `SELECT count(*)::text AS total FROM commands c ${where}`, values };
  }
  const grouping = GROUPINGS[groupBy];
  values.push(limit);
  return {
    text: `
SELECT ${grouping.key}::text AS key,
       count(*)::text AS count,
       (sum(count(*)) OVER ())::text AS total
FROM commands c ${where}
GROUP BY ${grouping.columns}
ORDER BY count(*) DESC, ${grouping.columns}
LIMIT $${values.length}`,
    values,
  };
}
