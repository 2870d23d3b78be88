import { type CommandStatus, type ReportSource } from '../commands/command-status.js';
import { type FeedPosition, encodePosition } from './feed-position.js';

/** An applied status change as the feed passes it on, its SSE message rendered once for all streams. */
export interface FeedChange {
  readonly position: FeedPosition;
  readonly commandId: string;
  readonly deviceId: string;
  readonly status: CommandStatus;
  /** The event's `data` as JSON, also what the events sinks publish (src/events). */
  readonly data: string;
  /** When the change was recorded (ms since the epoch), for the delivery-delay metric. */
  readonly receivedAtMs: number;
  /** The whole SSE message (`id`, `event`, `data`, blank line). */
  readonly message: string;
}

/** Only changes of this device and/or this command. */
export interface ChangeFilter {
  readonly deviceId?: string;
  readonly commandId?: string;
}

/** A history row as the feed's statements return it. */
export interface ChangeRow {
  xid: string;
  id: string;
  command_id: string;
  device_id: string;
  status: CommandStatus;
  previous_status: CommandStatus | null;
  source: ReportSource;
  version: number;
  received_at: string;
}

export function toFeedChange(row: ChangeRow): FeedChange {
  const position = { xid: BigInt(row.xid), id: BigInt(row.id) };
  const data = {
    commandId: row.command_id,
    deviceId: row.device_id,
    status: row.status,
    previousStatus: row.previous_status,
    source: row.source,
    version: row.version,
    receivedAt: row.received_at,
    historyId: row.id,
  };
  // JSON.stringify escapes newlines, so `data` is a single line.
  const json = JSON.stringify(data);
  return {
    position,
    commandId: row.command_id,
    deviceId: row.device_id,
    status: row.status,
    data: json,
    receivedAtMs: Date.parse(row.received_at),
    message: `id: ${encodePosition(position)}\nevent: command-status\ndata: ${json}\n\n`,
  };
}

export function matches(change: FeedChange, filter: ChangeFilter): boolean {
  return (
    (filter.deviceId === undefined || change.deviceId === filter.deviceId) &&
    (filter.commandId === undefined || change.commandId === filter.commandId)
  );
}
