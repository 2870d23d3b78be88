import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches } from 'class-validator';
import { COMMAND_STATUSES } from '../command-status.js';
import { IsIdentifier, IsInstant } from '../../http/validators.js';

const STATUS = `(${COMMAND_STATUSES.join('|')})`;

export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 50;

export class ListCommandsQuery {
  @ApiPropertyOptional({ example: '92d3f8da-200a-4143-8d0d-591a7e11de6c' })
  @IsOptional()
  @IsIdentifier()
  deviceId?: string;

  @ApiPropertyOptional({
    description: `One status or a comma-separated list of ${COMMAND_STATUSES.join(', ')}`,
    example: 'SENT,DELIVERED',
  })
  @IsOptional()
  @Matches(new RegExp(`^${STATUS}(,${STATUS})*$`), {
    message: `must be one or a comma-separated list of ${COMMAND_STATUSES.join(', ')}`,
  })
  status?: string;

  @ApiPropertyOptional({
    description: 'createdAt at or after (inclusive)',
    example: '2026-11-26T00:00:00Z',
  })
  @IsOptional()
  @IsInstant()
  since?: string;

  @ApiPropertyOptional({
    description: 'createdAt before (exclusive)',
    example: '2026-11-27T00:00:00Z',
  })
  @IsOptional()
  @IsInstant()
  until?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })
  @IsOptional()
  @Matches(/^(?:[1-9]\d{0,2})$/, { message: `must be a whole number from 1 to ${MAX_PAGE_SIZE}` })
  limit?: string;

  @ApiPropertyOptional({ description: "Opaque, from the previous page's nextCursor" })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  cursor?: string;
}
