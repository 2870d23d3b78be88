import { plainToInstance } from 'class-transformer';
import { IsOptional, IsString, Matches, validateSync } from 'class-validator';
import { COMMAND_STATUSES } from '../command-status.js';
import { type FieldProblem } from '../../http/json-checks.js';
import { ValidationProblem } from '../../http/problem.js';
import { type QueryDefinition, parseQuery } from '../../http/query.js';
import { IsIdentifier, IsInstant } from '../../http/validators.js';
import { encodeHistoryCursor, encodeListCursor } from '../read-cursors.js';
import { HISTORY_PAGE_QUERY, LIST_COMMANDS_QUERY } from './read-queries.js';

// GET /commands' query as class-validator's decorators declare it: the messages its parsing gives
// must be theirs, word for word (only a cursor's content is checked beyond being a string).
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
  @Matches(/^(?:[1-9]\d?|[1-4]\d\d|500)$/, { message: 'must be a whole number from 1 to 500' })
  limit?: string;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  cursor?: string;
}

function decoratedProblems(query: Record<string, unknown>): FieldProblem[] {
  const errors = validateSync(plainToInstance(DecoratedQuery, query), { stopAtFirstError: true });
  return errors.flatMap((error) =>
    Object.values(error.constraints ?? {}).map((message) => ({
      field: error.property,
      message: `${error.property} ${message}`,
    })),
  );
}

function problemsOf(definition: QueryDefinition, query: Record<string, unknown>): FieldProblem[] {
  try {
    parseQuery(definition, query);
    return [];
  } catch (error) {
    if (error instanceof ValidationProblem) {
      return error.errors;
    }
    throw error;
  }
}

const CURSOR = encodeListCursor({ createdAt: '2026-11-26T05:00:00.000Z', commandId: 'c-1' });

const SAMPLES: Record<string, unknown>[] = [
  {},
  { deviceId: 'd-1', status: 'SENT', since: '2026-11-26T00:00:00Z', limit: '50', cursor: CURSOR },
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
  { cursor: 5 },
  { deviceId: 7, status: 1, since: true, until: {}, limit: 3, cursor: null },
  { deviceId: null, status: null },
  { deviceId: '', status: 'NOPE', since: 'x', until: 'y', limit: 'z', other: 'ignored' },
];

describe("GET /commands' query", () => {
  it.each(SAMPLES.map((sample) => [JSON.stringify(sample), sample]))(
    'finds what the decorators found in %s',
    (_name, sample) => {
      expect(problemsOf(LIST_COMMANDS_QUERY, sample)).toEqual(decoratedProblems(sample));
    },
  );

  it('gives each value parsed, and the defaults for what is absent', () => {
    expect(
      parseQuery(LIST_COMMANDS_QUERY, {
        deviceId: 'd',
        status: 'SENT,FAILED',
        since: '2026-11-26T01:00:00+01:00',
        limit: '7',
        cursor: CURSOR,
      }),
    ).toEqual({
      deviceId: 'd',
      status: ['SENT', 'FAILED'],
      since: new Date('2026-11-26T00:00:00Z'),
      until: undefined,
      limit: 7,
      cursor: { createdAt: new Date('2026-11-26T05:00:00Z'), commandId: 'c-1' },
    });
    expect(parseQuery(LIST_COMMANDS_QUERY, {})).toMatchObject({ limit: 50, cursor: undefined });
  });

  it('names each invalid parameter once, in parameter order', () => {
    const fields = problemsOf(LIST_COMMANDS_QUERY, { cursor: 1, limit: '0', deviceId: '' }).map(
      (problem) => problem.field,
    );
    expect(fields).toEqual(['deviceId', 'limit', 'cursor']);
  });

  it.each([
    ['not base64url', 'not-a-cursor!'],
    ['an empty string', ''],
    ['not JSON', Buffer.from('[x').toString('base64url')],
    ['an object', Buffer.from('{"a":1}').toString('base64url')],
    ['a keyset without a time', Buffer.from('["x","y"]').toString('base64url')],
    ['a keyset with an empty id', Buffer.from('["2026-01-01T00:00:00Z",""]').toString('base64url')],
    ['a history cursor', encodeHistoryCursor('5')],
  ])('refuses a cursor that is %s', (_name, cursor) => {
    expect(problemsOf(LIST_COMMANDS_QUERY, { cursor })).toEqual([
      { field: 'cursor', message: 'cursor is not a cursor this service issued' },
    ]);
  });
});

describe("GET /commands/{commandId}/history's query", () => {
  it('defaults to 100 entries from the start', () => {
    expect(parseQuery(HISTORY_PAGE_QUERY, {})).toEqual({ limit: 100, cursor: undefined });
  });

  it.each(['1', '100', '1000'])('takes limit=%s', (limit) => {
    expect(parseQuery(HISTORY_PAGE_QUERY, { limit }).limit).toBe(Number(limit));
  });

  it.each(['0', '1001', '-1', '1.5', '', '05', 'ten', '99999'])('refuses limit=%s', (limit) => {
    expect(problemsOf(HISTORY_PAGE_QUERY, { limit })).toEqual([
      { field: 'limit', message: 'limit must be a whole number from 1 to 1000' },
    ]);
  });

  it('reads back the entry id its cursor was made from', () => {
    expect(parseQuery(HISTORY_PAGE_QUERY, { cursor: encodeHistoryCursor('123') }).cursor).toBe(
      '123',
    );
  });

  it.each([
    ['not base64url', 'a.b'],
    ['a list cursor', CURSOR],
    ['an id that is not a number', Buffer.from('{"after":"1x"}').toString('base64url')],
    ['an id of zero', Buffer.from('{"after":"0"}').toString('base64url')],
    ['an id as a number', Buffer.from('{"after":5}').toString('base64url')],
    ['null', Buffer.from('null').toString('base64url')],
  ])('refuses a cursor that is %s', (_name, cursor) => {
    expect(problemsOf(HISTORY_PAGE_QUERY, { cursor })).toEqual([
      { field: 'cursor', message: 'cursor is not a cursor this service issued' },
    ]);
  });
});
