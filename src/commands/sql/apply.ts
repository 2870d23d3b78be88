// The statement of the write path. The rank rule itself is the function apply_reports, defined
// by migrations/1796600000000-ApplyReportsFunction.ts, which also explains the advisory lock
// protocol every writer of commands follows (the sweeper too, in sweep.ts).

/** The advisory lock key of a command: the same for every writer, the sweeper included. */
export const commandLockKey = (commandId: string) => `hashtextextended(${commandId}, 0)`;

/**
 * Applies reports of distinct commands, locks to commit, in one statement: $1 the reports as one
 * JSON array of status_report records (see reportsJson), $2 the default deadline in seconds, $3
 * whether to wait for commands locked elsewhere, $4 the time budget in ms. One row per report, in
 * order.
 */
export const APPLY_REPORTS_SQL = `SELECT * FROM apply_reports(
  reports => $1::jsonb, default_deadline_seconds => $2::integer, wait_for_locks => $3::boolean,
  budget_ms => $4::integer)`;

/** What apply_reports raises when it finished past its budget: it wrote nothing. */
export const TOO_LATE_SQLSTATE = 'CT001';
