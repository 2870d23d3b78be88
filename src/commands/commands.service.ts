import { Injectable } from '@nestjs/common';
import { CommandMismatchError, CommandNotFoundError } from './command-errors.js';
import { type ApplyResult, type Report } from './commands.repository.js';
import { GroupCommit } from './group-commit.js';
import { ChangeReader } from '../feed/change-reader.js';
import { CommandLatency } from '../metrics/command-latency.js';
import { CommandMetrics } from '../metrics/command-metrics.js';
import { CommandsReader, type ResponseBody } from './commands.reader.js';
import {
  type CountsQuery,
  type HistoryPageQuery,
  type ListCommandsQuery,
} from './dto/read-queries.js';

export type RecordedReport = Extract<ApplyResult, { kind: 'recorded' }>;

@Injectable()
export class CommandsService {
  constructor(
    private readonly writes: GroupCommit,
    private readonly feed: ChangeReader,
    private readonly metrics: CommandMetrics,
    private readonly reader: CommandsReader,
    private readonly latency: CommandLatency,
  ) {}

  /** Applies a report by the rank rule and records it; wakes the change feed once committed. */
  async report(report: Report): Promise<RecordedReport> {
    const result = await this.writes.apply(report);
    if (result.kind === 'mismatch') {
      throw new CommandMismatchError(report.commandId, result.field);
    }
    this.metrics.reportRecorded(report, result.outcome);
    if (result.outcome === 'applied') {
      // Committed: the change feed reads it now rather than at its next poll.
      this.feed.wake();
      this.latency.applied(result.commandId, result.status, result.previousStatus);
    }
    return result;
  }

  /** GET /commands/{commandId}'s body: the command with its latest history, as JSON. */
  async getJson(commandId: string): Promise<ResponseBody> {
    const json = await this.reader.lookupJson(commandId);
    if (json === undefined) {
      throw new CommandNotFoundError(commandId);
    }
    return json;
  }

  /** GET /commands/{commandId}/history's body: a page of its history, as JSON. */
  async historyJson(commandId: string, query: HistoryPageQuery): Promise<ResponseBody> {
    const json = await this.reader.historyPageJson(commandId, query);
    if (json === undefined) {
      throw new CommandNotFoundError(commandId);
    }
    return json;
  }

  /** GET /commands' body: `{"items":[...],"nextCursor":...}`. */
  async listJson(query: ListCommandsQuery): Promise<ResponseBody> {
    return this.reader.listJson(query);
  }

  /** GET /analytics/counts' body: the total and the largest groups, as JSON. */
  async countsJson(query: CountsQuery): Promise<string> {
    return this.reader.countsJson(query);
  }
}
