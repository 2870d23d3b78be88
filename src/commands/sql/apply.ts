// The statement of the write path. The rank rule itself is the function apply_reports, defined
// by migrations/1796600000000-ApplyReportsFunction.ts, which also explains the advisory lock
// protocol every writer of commands follows (the sweeper too, in sweep.ts).

/** The advisory lock key of a command: the same for every writer, the sweeper included. */
export const commandLockKey = (commandId: string) => `hashtextextended(${commandId}, 0)`;

/**
 * Applies reports of distinct commands, locks to commit, in one statement (arrays $1 to $13 one
 * element per report, see applyParams; $14 the default deadline in seconds; $15 wait for commands
 * locked elsewhere; $16 the time budget in ms). One row per report, in order.
 */
export const APPLY_REPORTS_SQL = `SELECT * FROM apply_reports(
  $1::text[], $2::text[], $3::text[], $4::smallint[], $5::text[], $6::text[], $7::text[],
  $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::integer[], $13::boolean[],
  $14::integer, $15::boolean, $16::integer)`;

/** What apply_reports raises when it finished past its budget: it wrote nothing. */
export const TOO_LATE_SQLSTATE = 'CT001';
