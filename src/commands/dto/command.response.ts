import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiResponse } from '@nestjs/swagger';
import {
  COMMAND_STATUSES,
  type CommandStatus,
  REPORT_OUTCOMES,
  REPORT_SOURCES,
  type ReportOutcome,
  type ReportSource,
} from '../command-status.js';

// Response shapes for the OpenAPI document. What is sent is the JSON that PostgreSQL renders
// (sql/read.ts), in these shapes and key order (checked in test/commands.e2e.spec.ts).

export class HistoryEntryResponse {
  @ApiProperty({ example: '1', description: 'History event id (also the change feed id)' })
  id!: string;

  @ApiProperty({ enum: COMMAND_STATUSES })
  status!: CommandStatus;

  @ApiProperty({ enum: REPORT_OUTCOMES })
  outcome!: ReportOutcome;

  @ApiProperty({ enum: REPORT_SOURCES })
  source!: ReportSource;

  @ApiProperty({ nullable: true, example: null })
  resultDetail!: unknown;

  @ApiProperty({
    nullable: true,
    description: 'The request body as received; null for the sweeper',
    type: 'object',
    additionalProperties: true,
  })
  payload!: unknown;

  @ApiProperty({ example: '2026-11-26T05:00:00.000Z' })
  receivedAt!: string;
}

export class CommandResponse {
  @ApiProperty({ example: '108a9c71462a48e09426e06e844d47ba' })
  commandId!: string;

  @ApiProperty({ example: '92d3f8da-200a-4143-8d0d-591a7e11de6c' })
  deviceId!: string;

  @ApiProperty({ enum: COMMAND_STATUSES })
  status!: CommandStatus;

  @ApiProperty({ nullable: true, example: { value: 1 } })
  resultDetail!: unknown;

  @ApiProperty({ type: String, nullable: true })
  serviceId!: string | null;

  @ApiProperty({ type: String, nullable: true })
  method!: string | null;

  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true })
  paras!: Record<string, unknown> | null;

  @ApiProperty({ example: '2026-11-26T05:00:00.000Z' })
  createdAt!: string;

  @ApiProperty({ example: '2026-11-26T05:00:01.000Z' })
  updatedAt!: string;

  @ApiProperty({ example: '2026-11-28T05:00:00.000Z' })
  deadline!: string;

  @ApiProperty({ type: String, nullable: true })
  sentAt!: string | null;

  @ApiProperty({ type: String, nullable: true })
  deliveredAt!: string | null;

  @ApiProperty({ type: String, nullable: true })
  completedAt!: string | null;

  @ApiProperty({ example: 3, description: 'Number of applied status changes' })
  version!: number;
}

export class CommandWithHistoryResponse extends CommandResponse {
  @ApiProperty({
    example: false,
    description:
      'Whether older history entries were left out: more than 1,000 entries, or more than 4 MB of JSON',
  })
  historyTruncated!: boolean;

  @ApiProperty({
    type: [HistoryEntryResponse],
    description: 'Every report, oldest first; only the latest when historyTruncated',
  })
  history!: HistoryEntryResponse[];
}

export class HistoryPageResponse {
  @ApiProperty({ type: [HistoryEntryResponse], description: 'Oldest first' })
  items!: HistoryEntryResponse[];

  @ApiProperty({ type: String, nullable: true, description: 'Pass as cursor for the next page' })
  nextCursor!: string | null;
}

export class CommandPageResponse {
  @ApiProperty({ type: [CommandResponse] })
  items!: CommandResponse[];

  @ApiProperty({ type: String, nullable: true, description: 'Pass as cursor for the next page' })
  nextCursor!: string | null;
}

export class CountGroupResponse {
  @ApiProperty({
    type: Object,
    description: '{ status }, { deviceId } or { serviceId, method }, by groupBy',
    example: { deviceId: '92d3f8da-200a-4143-8d0d-591a7e11de6c' },
  })
  key!: Record<string, string | null>;

  @ApiProperty({ example: 12 })
  count!: number;
}

export class CountsResponse {
  @ApiProperty({ example: 40, description: 'Commands that match the filters' })
  total!: number;

  @ApiProperty({ type: [CountGroupResponse], description: 'Largest first; empty without groupBy' })
  groups!: CountGroupResponse[];
}

export class ProblemResponse {
  @ApiProperty({ example: 'about:blank' })
  type!: string;

  @ApiProperty({ example: 'Bad Request' })
  title!: string;

  @ApiProperty({ example: 400 })
  status!: number;

  @ApiProperty({ required: false })
  detail?: string;

  @ApiProperty({
    required: false,
    example: [{ field: 'result.resultCode', message: 'result.resultCode must be one of ...' }],
  })
  errors?: { field: string; message: string }[];

  @ApiProperty({ required: false })
  requestId?: string;
}

/** The problem answers of a status push (legacy callback and IoTDA), as docs/api.md gives them. */
export function ApiStatusPushProblems(): MethodDecorator {
  return applyDecorators(
    ApiResponse({
      status: 400,
      type: ProblemResponse,
      description: 'Invalid body; nothing stored',
    }),
    ApiResponse({ status: 401, type: ProblemResponse, description: 'Missing or wrong token' }),
    ApiResponse({
      status: 409,
      type: ProblemResponse,
      description: 'Known under another deviceId',
    }),
    ApiResponse({ status: 413, type: ProblemResponse, description: 'Body over BODY_LIMIT_BYTES' }),
    ApiResponse({ status: 415, type: ProblemResponse, description: 'Body is not JSON' }),
    ApiResponse({ status: 503, type: ProblemResponse, description: 'Not stored; push again' }),
  );
}
