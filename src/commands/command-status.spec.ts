import { COMMAND_STATUSES, decide, rankOf } from './command-status.js';
import { OUTCOME_TABLE } from '../../test/support/status-rule-table.js';

describe('decide', () => {
  const pairs = COMMAND_STATUSES.flatMap((current) =>
    COMMAND_STATUSES.map((reported, i) => [current, reported, OUTCOME_TABLE[current][i]] as const),
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
