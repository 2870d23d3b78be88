// Times given in requests: ISO 8601 with Z or an offset, so that each names one instant.

/** An ISO 8601 date and time that says its offset (Z or ±hh:mm), so it names one instant. */
export const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(:(\d{2})(\.\d{1,9})?)?(Z|[+-](\d{2}):?(\d{2}))$/i;

export function parseInstant(value: string): Date | undefined {
  const match = ISO_INSTANT.exec(value);
  if (match === null) {
    return undefined;
  }
  // Date() rolls impossible fields over (30 February is 2 March, 24:00 the next day): refuse them.
  const [year, month, day, hour, minute] = [1, 2, 3, 4, 5].map((i) => Number(match[i]));
  const second = Number(match[7] ?? 0);
  const [offsetHours, offsetMinutes] = [Number(match[10] ?? 0), Number(match[11] ?? 0)];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    offsetHours > 23 ||
    offsetMinutes > 59
  ) {
    return undefined;
  }
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export const INSTANT_MESSAGE =
  'must be an ISO 8601 date and time with Z or an offset, e.g. 2026-11-26T05:00:00Z';

/** A given value read as an instant: undefined unless it is a string naming one. */
export function instantOf(given: unknown): Date | undefined {
  return typeof given === 'string' ? parseInstant(given) : undefined;
}
