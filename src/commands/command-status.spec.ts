import {
  COMMAND_STATUSES,
  type CommandStatus,
  type ReportOutcome,
  decide,
  rankOf,
} from './command-status.js';

// Every (current, reported) pair, written out so that a change to the rule shows up here as a diff.
// Rows: current status; columns: reported status in COMMAND_STATUSES order.
const A = 'applied';
const D = 'duplicate';
const S = 'stale';
const C = 'conflict';
const TABLE: Record<CommandStatus, ReportOutcome[]> = {
  //          PENDING SENT DELIVERED TIMEOUT EXPIRED CANCELED SUCCESSFUL FAILED
  PENDING: [D, A, A, A, A, A, A, A],
  SENT: [S, D, A, A, A, A, A, A],
  DELIVERED: [S, S, D, A, A, A, A, A],
  TIMEOUT: [S, S, S, D, C, C, A, A],
  EXPIRED: [S, S, S, C, D, C, A, A],
  CANCELED: [S, S, S, C, C, D, A, A],
  SUCCESSFUL: [S, S, S, S, S, S, D, C],
  FAILED: [S, S, S, S, S, S, C, D],
};

describe('decide', () => {
  const pairs = COMMAND_STATUSES.flatMap((current) =>
    COMMAND_STATUSES.map((reported, i) => [current, reported, TABLE[current][i]] as const),
  );

  it.each(pairs)('current %s, reported %s → %s', (current, reported, expected) => {
    expect(decide(current, reported)).toBe(expected);
  });

  it.each(COMMAND_STATUSES)('applies %s to a command not seen before', (reported) => {
    expect(decide(undefined, reported)).toBe('applied');
  });

  it('keeps SUCCESSFUL when FAILED arrives later', () => {
    expect(decide('SUCCESSFUL', 'FAILED')).toBe('conflict');
  });

  it('applies a late result after TIMEOUT', () => {
    expect(decide('TIMEOUT', 'SUCCESSFUL')).toBe('applied');
  });

  it('applies SUCCESSFUL straight after SENT when DELIVERED was lost', () => {
    expect(decide('SENT', 'SUCCESSFUL')).toBe('applied');
  });

  it('applies exactly when the reported rank is higher', () => {
    for (const current of COMMAND_STATUSES) {
      for (const reported of COMMAND_STATUSES) {
        expect(decide(current, reported) === 'applied').toBe(rankOf(reported) > rankOf(current));
      }
    }
  });
});
