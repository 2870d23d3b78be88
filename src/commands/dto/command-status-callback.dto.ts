import { ApiProperty } from '@nestjs/swagger';
import {
  COMMAND_STATUSES,
  type CommandStatus,
  type ReportOutcome,
  REPORT_OUTCOMES,
} from '../command-status.js';
import {
  IDENTIFIER_DOC,
  anyJson,
  identifier,
  object,
  objectSchema,
  oneOf,
  required,
  withDefault,
} from '../../http/fields.js';

export const STATUS_LIST_MESSAGE = `must be one of ${COMMAND_STATUSES.join(', ')}`;

/** What some platform versions send for PENDING: accepted, stored and applied as PENDING. */
export const LEGACY_PENDING = 'DEFAULT';

export const LEGACY_RESULT_CODES = [...COMMAND_STATUSES, LEGACY_PENDING] as const;

export type LegacyResultCode = (typeof LEGACY_RESULT_CODES)[number];

/** The status a legacy resultCode reports. */
export function legacyStatus(code: LegacyResultCode): CommandStatus {
  return code === LEGACY_PENDING ? 'PENDING' : code;
}

const RESULT_FIELDS = {
  resultCode: required(oneOf(LEGACY_RESULT_CODES, STATUS_LIST_MESSAGE), {
    type: 'string',
    enum: [...LEGACY_RESULT_CODES],
    example: 'SENT',
    description: 'DEFAULT is read as PENDING',
  }),
  resultDetail: withDefault<unknown>(null, anyJson, {
    description: 'Whatever the device or codec returned; absent means null',
    example: null,
    nullable: true,
  }),
};

/** The platform's status push (OceanConnect callbackUrl). Unknown extra fields are kept. */
export const CALLBACK_BODY = {
  deviceId: required(identifier, IDENTIFIER_DOC('92d3f8da-200a-4143-8d0d-591a7e11de6c')),
  commandId: required(identifier, IDENTIFIER_DOC('108a9c71462a48e09426e06e844d47ba')),
  result: required(
    object(RESULT_FIELDS),
    objectSchema(RESULT_FIELDS, { description: 'The status and what came with it' }),
  ),
};

export class CallbackAnswerDto {
  @ApiProperty({ example: '108a9c71462a48e09426e06e844d47ba' })
  commandId!: string;

  @ApiProperty({ enum: COMMAND_STATUSES, description: 'Current status, after this report' })
  status!: CommandStatus;

  @ApiProperty({ enum: REPORT_OUTCOMES })
  outcome!: ReportOutcome;
}
