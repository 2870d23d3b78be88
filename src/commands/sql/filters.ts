// The filters GET /commands and GET /analytics/counts share, as SQL conditions on `commands c`.

/** Filters of GET /commands and GET /analytics/counts, parsed. */
export interface CommandFilter {
  deviceId?: string;
  deviceIdPrefix?: string;
  statuses?: string[];
  /** createdAt at or after. */
  since?: Date;
  /** createdAt before. */
  until?: Date;
  /** updatedAt before: silent since then. */
  updatedBefore?: Date;
  /** Commands sent by this campaign's dispatches. */
  campaignId?: string;
}

/** Conditions (joined with AND) and a name for their shape, with their values in `values`. */
export function filterConditions(
  filter: CommandFilter,
  values: unknown[],
): { conditions: string[]; shape: string } {
  const param = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  const conditions: string[] = [];
  let shape = '';
  if (filter.deviceId !== undefined) {
    conditions.push(`c.device_id = ${param(filter.deviceId)}`);
    shape += '_device';
  }
  if (filter.deviceIdPrefix !== undefined) {
    // device_id is COLLATE "C": a prefix is a range of the index on device_id, bounded by the
    // first string past every string that starts with it.
    conditions.push(`c.device_id >= ${param(filter.deviceIdPrefix)}`);
    const end = prefixEnd(filter.deviceIdPrefix);
    if (end !== undefined) {
      conditions.push(`c.device_id < ${param(end)}`);
    }
    shape += end === undefined ? '_prefix_open' : '_prefix';
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
  if (filter.updatedBefore !== undefined) {
    conditions.push(`c.updated_at < ${param(filter.updatedBefore)}`);
    shape += '_updated';
  }
  if (filter.campaignId !== undefined) {
    conditions.push(
      `c.command_id IN (SELECT d.command_id FROM dispatches d
         WHERE d.campaign_id = ${param(filter.campaignId)} AND d.command_id IS NOT NULL)`,
    );
    shape += '_campaign';
  }
  return { conditions, shape };
}

/**
 * The least string, in code point order (UTF-8 byte order, collation "C"), that is greater than
 * every string starting with `prefix`: the prefix with its last code point incremented, carrying
 * past U+10FFFF and skipping surrogates. Undefined when there is none (all U+10FFFF).
 */
export function prefixEnd(prefix: string): string | undefined {
  const codePoints = [...prefix].map((character) => character.codePointAt(0) ?? 0);
  while (codePoints.length > 0) {
    let last = (codePoints.pop() ?? 0) + 1;
    if (last === 0xd800) {
      last = 0xe000;
    }
    if (last <= 0x10ffff) {
      codePoints.push(last);
      return String.fromCodePoint(...codePoints);
    }
  }
  return undefined;
}
