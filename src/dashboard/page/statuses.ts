import { api } from './api.js';

/** One command status as the service describes it (GET /dashboard/api/statuses). */
export interface StatusInfo {
  name: string;
  rank: number;
  /** Still waiting for the device: rank below 3. */
  open: boolean;
  /** No report can change it any more: rank 4. */
  final: boolean;
}

// Read once when the page starts, before any view: the service's status model, not a copy of it.
let known: StatusInfo[] = [];

export async function loadStatuses(): Promise<void> {
  known = (await api<{ statuses: StatusInfo[] }>('/dashboard/api/statuses')).statuses;
}

/** Every status, in the service's order. */
export function statusNames(): string[] {
  return known.map((status) => status.name);
}

/** The statuses of commands still waiting for the device. */
export function openStatuses(): string[] {
  return known.filter((status) => status.open).map((status) => status.name);
}

/** The statuses of commands that are no longer waiting (rank 3 or 4): finished, for a rate. */
export function finishedStatuses(): string[] {
  return known.filter((status) => !status.open).map((status) => status.name);
}
