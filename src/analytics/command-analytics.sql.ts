import { type CommandAnalyticsQuery } from './command-analytics.query.js';

export const PERCENTILES = [0.5, 0.9, 0.99] as const;
export const FINAL_STATUSES = ['TIMEOUT', 'EXPIRED', 'CANCELED', 'SUCCESSFUL', 'FAILED'] as const;

/** One group's row: the overall one has `overall` true and no serviceId or method. */
export interface AnalyticsRow {
  overall: boolean;
  service_id: string | null;
  method: string | null;
  commands: number;
  final: Record<string, number>;
  to_sent: (number | null)[] | null;
  to_delivered: (number | null)[] | null;
  to_final: (number | null)[] | null;
}

// Latencies in ms from createdAt to sentAt, deliveredAt and completedAt; percentile_cont
// interpolates between the two nearest values and leaves out commands without that time. The
// overall row and one per serviceId and method come from one pass (GROUPING SETS).
export function analyticsStatement(filter: CommandAnalyticsQuery): {
  text: string;
  values: unknown[];
} {
  const conditions: string[] = [];
  const values: unknown[] = [];
  const param = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  if (filter.serviceId !== undefined) {
    conditions.push(`c.service_id = ${param(filter.serviceId)}`);
  }
  if (filter.method !== undefined) {
    conditions.push(`c.method = ${param(filter.method)}`);
  }
  if (filter.deviceId !== undefined) {
    conditions.push(`c.device_id = ${param(filter.deviceId)}`);
  }
  if (filter.campaignId !== undefined) {
    conditions.push(
      `c.command_id IN (SELECT d.command_id FROM dispatches d
         WHERE d.campaign_id = ${param(filter.campaignId)} AND d.command_id IS NOT NULL)`,
    );
  }
  if (filter.since !== undefined) {
    conditions.push(`c.created_at >= ${param(filter.since)}`);
  }
  if (filter.until !== undefined) {
    conditions.push(`c.created_at < ${param(filter.until)}`);
  }
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const percentiles = `ARRAY[${PERCENTILES.join(', ')}]::float8[]`;
  const latency = (column: string) =>
    `percentile_cont(${percentiles}) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM c.${column} - c.created_at)::float8 * 1000)`;
  const finals = FINAL_STATUSES.map(
    (status) => `'${status}', count(*) FILTER (WHERE c.status = '${status}')`,
  ).join(', ');
  return {
    text: `
SELECT GROUPING(c.service_id, c.method) = 3 AS overall, c.service_id, c.method,
  count(*)::int AS commands,
  json_build_object(${finals}) AS final,
  ${latency('sent_at')} AS to_sent,
  ${latency('delivered_at')} AS to_delivered,
  ${latency('completed_at')} AS to_final
FROM commands c ${where}
GROUP BY GROUPING SETS ((), (c.service_id, c.method))
ORDER BY overall DESC, c.service_id NULLS FIRST, c.method NULLS FIRST`,
    values,
  };
}
