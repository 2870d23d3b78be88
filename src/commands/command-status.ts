// The status model of docs/api.md: eight statuses, their ranks, and the one rule that decides every report.

export const COMMAND_STATUSES = [
  'PENDING',
  'SENT',
  'DELIVERED',
  'TIMEOUT',
  'EXPIRED',
  'CANCELED',
  'SUCCESSFUL',
  'FAILED',
] as const;

export type CommandStatus = (typeof COMMAND_STATUSES)[number];

export const REPORT_OUTCOMES = ['applied', 'duplicate', 'stale', 'conflict'] as const;

export type ReportOutcome = (typeof REPORT_OUTCOMES)[number];

export const REPORT_SOURCES = [
  'callback',
  'iotda',
  'registration',
  'dispatch',
  'reconcile',
  'sweeper',
] as const;

export type ReportSource = (typeof REPORT_SOURCES)[number];

export function rankOf(status: CommandStatus): number {
  switch (status) {
    case 'PENDING':
      return 0;
    case 'SENT':
      return 1;
    case 'DELIVERED':
      return 2;
    case 'TIMEOUT':
    case 'EXPIRED':
    case 'CANCELED':
      return 3;
    case 'SUCCESSFUL':
    case 'FAILED':
      return 4;
    default:
      return assertNever(status);
  }
}

export function isCommandStatus(value: unknown): value is CommandStatus {
  return typeof value === 'string' && (COMMAND_STATUSES as readonly string[]).includes(value);
}

/**
 * The rank rule as a pure function: the oracle of the tests and of the simulator, which check the
 * stored outcomes against it. The rule the service applies is the SQL in sql/apply.ts;
 * test/status-rule.e2e.spec.ts runs every pair of statuses through that statement.
 */
export function decide(current: CommandStatus | undefined, reported: CommandStatus): ReportOutcome {
  if (current === undefined) {
    return 'applied';
  }
  const currentRank = rankOf(current);
  const reportedRank = rankOf(reported);
  if (reportedRank > currentRank) {
    return 'applied';
  }
  if (reported === current) {
    return 'duplicate';
  }
  return reportedRank < currentRank ? 'stale' : 'conflict';
}

export function assertNever(value: never): never {
  throw new Error(`Unexpected value: ${String(value)}`);
}
