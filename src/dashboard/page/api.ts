// The service's API as the page uses it: JSON over fetch with the key kept for this browser session.

/** A command status; the list and what each means come from the service (statuses.ts). */
export type Status = string;

export const OUTCOMES = ['applied', 'duplicate', 'stale', 'conflict', 'ignored'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface HistoryEntry {
  id: string;
  status: Status;
  outcome: Exclude<Outcome, 'ignored'>;
  source: string;
  resultDetail: unknown;
  payload?: unknown;
  receivedAt: string;
}

export interface Command {
  commandId: string;
  deviceId: string;
  status: Status;
  resultDetail: unknown;
  serviceId: string | null;
  method: string | null;
  paras: unknown;
  createdAt: string;
  updatedAt: string;
  deadline: string;
  sentAt: string | null;
  deliveredAt: string | null;
  completedAt: string | null;
  version: number;
}

export interface CommandWithHistory extends Command {
  history: HistoryEntry[];
  historyTruncated?: boolean;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export type MinuteBar = { minute: string } & Record<Outcome, number>;

export interface Overview {
  generatedAt: string;
  statusCounts: Record<Status, number>;
  window: { since: string; statusCounts: Record<Status, number> };
  oldestOpen: Command[];
  reportsPerMinute: { minutes: MinuteBar[]; ignoredCountedSince: string };
}

export interface Settings {
  platform: string | null;
  reconcile: boolean;
  cancel: boolean;
}

/** One message of GET /changes. */
export interface Change {
  commandId: string;
  deviceId: string;
  status: Status;
  previousStatus: Status | null;
  source: string;
  version: number;
  receivedAt: string;
}

export interface Problem {
  title?: string;
  status?: number;
  detail?: string;
  platformError?: { code?: unknown; message?: unknown };
}

const KEY_STORAGE = 'command-tracker.api-key';

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function storeKey(key: string | null): void {
  if (key === null) {
    sessionStorage.removeItem(KEY_STORAGE);
  } else {
    sessionStorage.setItem(KEY_STORAGE, key);
  }
}

/** The service wants a key (401): none was given, or the one given is not valid. */
export class KeyRequired extends Error {
  constructor(readonly rejected: boolean) {
    super(rejected ? 'The API key was not accepted' : 'An API key is required');
  }
}

/** A problem answer (4xx/5xx), or no answer at all (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
  ) {
    super(describeProblem(status, problem));
  }
}

function describeProblem(status: number, problem: Problem | undefined): string {
  if (status === 0) {
    return 'The service did not answer; it may be restarting.';
  }
  const title = problem?.title ?? `HTTP ${status}`;
  const parts = [`${status} ${title}`];
  if (problem?.detail !== undefined) {
    parts.push(problem.detail);
  }
  const platform = problem?.platformError;
  if (platform !== undefined) {
    parts.push(`platform said: ${String(platform.code)} ${String(platform.message)}`);
  }
  return parts.join(': ');
}

export async function api<T>(path: string, method: 'GET' | 'POST' = 'GET'): Promise<T> {
  const key = storedKey();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (key !== null) {
    headers.authorization = `Bearer ${key}`;
  }
  let response: Response;
  try {
    response = await fetch(path, { method, headers, cache: 'no-store' });
  } catch {
    throw new ApiError(0, undefined);
  }
  if (response.status === 401) {
    throw new KeyRequired(key !== null);
  }
  if (!response.ok) {
    const problem = (await response.json().catch(() => undefined)) as Problem | undefined;
    throw new ApiError(response.status, problem);
  }
  return (await response.json()) as T;
}

/** A path segment for an id, which may hold any printable character. */
export function segment(id: string): string {
  return encodeURIComponent(id);
}

/** One try at sending a dispatch to the platform. */
export interface Attempt {
  at: string;
  outcome: string;
  platformError?: { code?: unknown; message?: unknown } | null;
}

/** A dispatch of POST /dispatches: the service's job of sending one command to one device. */
export interface Dispatch {
  dispatchId: string;
  deviceId: string;
  serviceId: string;
  method: string;
  mode: string;
  state: string;
  replaceKey: string | null;
  campaignId: string | null;
  notBefore: string;
  sendBy: string;
  nextAttemptAt: string;
  commandId: string | null;
  attempts: Attempt[];
  createdAt: string;
  updatedAt: string;
}

export interface Campaign {
  campaignId: string;
  name: string;
  state: string;
  command: { serviceId?: string; method?: string };
  ratePerMinute: number;
  startAt: string | null;
  endAt: string | null;
  createdAt: string;
  updatedAt: string;
  devices: number;
  dispatches: Record<string, number>;
  commands: Record<string, number>;
  abortReason: string | null;
}

export interface Percentiles {
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export interface CommandAnalytics {
  commands: number;
  final: Record<string, number>;
  successPercent: number | null;
  latencyMs: { toSent: Percentiles; toDelivered: Percentiles; toFinal: Percentiles };
}

/** GET /analytics/commands */
export interface Analytics extends CommandAnalytics {
  byCommand: (CommandAnalytics & { serviceId: string | null; method: string | null })[];
}
