import { plainToInstance } from 'class-transformer';
import { IsOptional, IsString, Matches, validateSync } from 'class-validator';
import { COMMAND_STATUSES } from '../command-status.js';
import { IsIdentifier, IsInstant } from '../../http/validators.js';
import { ListCommandsQuery } from './list-commands.query.js';

// The query as it was declared with class-validator's decorators, before it checked itself: its
// check() must say what these said, word for word.
const STATUS = `(${COMMAND_STATUSES.join('|')})`;
class DecoratedQuery {
  @IsOptional()
  @IsIdentifier()
  deviceId?: string;

  @IsOptional()
  @Matches(new RegExp(`^${STATUS}(,${STATUS})*$`), {
    message: `must be one or a comma-separated list of ${COMMAND_STATUSES.join(', ')}`,
  })
  status?: string;

  @IsOptional()
  @IsInstant()
  since?: string;

  @IsOptional()
  @IsInstant()
  until?: string;

  @IsOptional()
  @Matches(/^(?:[1-9]\d{0,2})$/, { message: 'must be a whole number from 1 to 500' })
  limit?: string;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  cursor?: string;
}

function decoratedProblems(query: Record<string, unknown>) {
  const errors = validateSync(plainToInstance(DecoratedQuery, query), { stopAtFirstError: true });
  return errors.flatMap((error) =>
    Object.values(error.constraints ?? {}).map((message) => ({
      field: error.property,
      message: `${error.property} ${message}`,
    })),
  );
}

const SAMPLES: Record<string, unknown>[] = [
  {},
  { deviceId: 'd-1', status: 'SENT', since: '2026-11-26T00:00:00Z', limit: '50', cursor: 'x' },
  { status: 'SENT,DELIVERED,SUCCESSFUL' },
  { status: 'SENT,' },
  { status: 'sent' },
  { status: '' },
  { status: 'SENT, FAILED' },
  { deviceId: '' },
  { deviceId: 'x'.repeat(129) },
  { deviceId: 'a\u0000b' },
  { deviceId: '\ud800' },
  { deviceId: '😀'.repeat(128) },
  { since: 'yesterday' },
  { since: '2026-11-26T00:00:00' },
  { until: '2026-02-30T00:00:00Z' },
  { since: '2026-11-26T00:00:00+01:00', until: '2026-11-27T00:00:00.123456Z' },
  { limit: '0' },
  { limit: '1' },
  { limit: '500' },
  { limit: '501' },
  { limit: '999' },
  { limit: '1000' },
  { limit: '-1' },
  { limit: '1.5' },
  { limit: '' },
  { limit: '05' },
  { cursor: '' },
  { cursor: 5 },
  { deviceId: 7, status: 1, since: true, until: {}, limit: 3, cursor: null },
  { deviceId: null, status: null },
  { deviceId: '', status: 'NOPE', since: 'x', until: 'y', limit: 'z', other: 'ignored' },
];

describe('ListCommandsQuery.check', () => {
  it.each(SAMPLES.map((sample) => [JSON.stringify(sample), sample]))(
    'finds what the decorators found in %s',
    (_name, sample) => {
      expect(ListCommandsQuery.check(sample)).toEqual(decoratedProblems(sample));
    },
  );

  it('finds nothing wrong with a valid query, and each problem once, in parameter order', () => {
    expect(ListCommandsQuery.check({ deviceId: 'd', limit: '10' })).toEqual([]);
    const fields = ListCommandsQuery.check({ cursor: 1, limit: '0', deviceId: '' }).map(
      (problem) => problem.field,
    );
    expect(fields).toEqual(['deviceId', 'limit', 'cursor']);
  });
});
