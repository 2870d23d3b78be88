import { type CommandStatus, type ReportOutcome } from '../../src/commands/command-status.js';

// docs/api.md's rule written out for every (current, reported) pair, so that a change to the rule
// shows up here as a diff. Rows: current status; columns: reported status in COMMAND_STATUSES order.
const A = 'applied';
const D = 'duplicate';
const S = 'stale';
const C = 'conflict';
export const OUTCOME_TABLE: Record<CommandStatus, readonly ReportOutcome[]> = {
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
