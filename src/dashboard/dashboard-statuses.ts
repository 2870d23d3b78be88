import { COMMAND_STATUSES, type CommandStatus, rankOf } from '../commands/command-status.js';

/** One status as the page shows it: its rank, and whether a command in it is open or final. */
export interface StatusInfo {
  name: CommandStatus;
  rank: number;
  /** Rank below 3: still waiting for the device (the stuck view's statuses). */
  open: boolean;
  /** Rank 4: no report can change it any more (rank 3 can still become SUCCESSFUL or FAILED). */
  final: boolean;
}

/** The status model of the service, in its own order, so that the page keeps no copy of it. */
export function statusList(): StatusInfo[] {
  return COMMAND_STATUSES.map((name) => {
    const rank = rankOf(name);
    return { name, rank, open: rank < 3, final: rank === 4 };
  });
}
