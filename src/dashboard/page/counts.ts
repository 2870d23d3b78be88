import { api } from './api.js';

/** GET /analytics/counts' answer. */
export interface Counts {
  total: number;
  groups: { key: Record<string, string | null>; count: number }[];
}

/** Counts of the commands that match `filters`, grouped (or only the total). */
export function counts(
  filters: Record<string, string | undefined>,
  groupBy?: 'status' | 'deviceId' | 'command',
  limit = 10,
): Promise<Counts> {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) {
    if (value !== undefined) {
      params.set(name, value);
    }
  }
  if (groupBy !== undefined) {
    params.set('groupBy', groupBy);
  }
  params.set('limit', String(limit));
  return api<Counts>(`/analytics/counts?${params.toString()}`);
}

/** serviceId / method, as a command is named. */
export function commandName(key: Record<string, string | null>): string {
  return `${key.serviceId ?? '—'} / ${key.method ?? '—'}`;
}
