import { ApiPropertyOptional } from '@nestjs/swagger';
import { COMMAND_STATUSES } from '../command-status.js';
import { type FieldProblem, identifierProblem } from '../../http/json-checks.js';
import { INSTANT_MESSAGE, parseInstant } from '../../http/validators.js';

const STATUS = `(${COMMAND_STATUSES.join('|')})`;
const STATUS_LIST = new RegExp(`^${STATUS}(,${STATUS})*$`);
const PAGE_SIZE = /^[1-9]\d{0,2}$/;

export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 50;
export const PAGE_SIZE_MESSAGE = `must be a whole number from 1 to ${MAX_PAGE_SIZE}`;

/**
 * GET /commands' query. It checks itself (see check()) rather than through class-validator's
 * decorators, which RequestValidationPipe uses for every other DTO: on this hot path,
 * class-validator and class-transformer were 12 to 18 % of the service's CPU per page
 * (bench/RESULTS.md). The messages are the ones the decorators gave.
 */
export class ListCommandsQuery {
  @ApiPropertyOptional({ example: '92d3f8da-200a-4143-8d0d-591a7e11de6c' })
  deviceId?: string;

  @ApiPropertyOptional({
    description: `One status or a comma-separated list of ${COMMAND_STATUSES.join(', ')}`,
    example: 'SENT,DELIVERED',
  })
  status?: string;

  @ApiPropertyOptional({
    description: 'createdAt at or after (inclusive)',
    example: '2026-11-26T00:00:00Z',
  })
  since?: string;

  @ApiPropertyOptional({
    description: 'createdAt before (exclusive)',
    example: '2026-11-27T00:00:00Z',
  })
  until?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })
  limit?: string;

  @ApiPropertyOptional({ description: "Opaque, from the previous page's nextCursor" })
  cursor?: string;

  /** What is wrong with a parsed query string, one problem per parameter at most, in order. */
  static check(query: Record<string, unknown>): FieldProblem[] {
    const problems: FieldProblem[] = [];
    const check = (field: string, problem: (value: unknown) => string | undefined) => {
      const value = query[field];
      const message = value === undefined || value === null ? undefined : problem(value);
      if (message !== undefined) {
        problems.push({ field, message: `${field} ${message}` });
      }
    };
    check('deviceId', identifierProblem);
    check('status', (value) =>
      typeof value === 'string' && STATUS_LIST.test(value)
        ? undefined
        : `must be one or a comma-separated list of ${COMMAND_STATUSES.join(', ')}`,
    );
    for (const field of ['since', 'until']) {
      check(field, (value) =>
        typeof value === 'string' && parseInstant(value) !== undefined
          ? undefined
          : INSTANT_MESSAGE,
      );
    }
    check('limit', (value) =>
      typeof value === 'string' && PAGE_SIZE.test(value) ? undefined : PAGE_SIZE_MESSAGE,
    );
    check('cursor', (value) => (typeof value === 'string' ? undefined : 'must be a string'));
    return problems;
  }
}
