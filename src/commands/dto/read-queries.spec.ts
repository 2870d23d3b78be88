import { COMMAND_STATUSES } from '../command-status.js';
import { type FieldProblem } from '../../http/json-checks.js';
import { type Dto, validateInput } from '../../http/validation.js';
import { encodeHistoryCursor, encodeListCursor } from '../read-cursors.js';
import { HistoryPageQuery, ListCommandsQuery } from './read-queries.js';

function parseQuery<T extends object>(dto: Dto<T>, query: Record<string, unknown>): T {
  const result = validateInput(dto, query);
  if ('problems' in result) {
    throw new Error(JSON.stringify(result.problems));
  }
  return result.value;
}

function problemsOf(dto: Dto<object>, query: Record<string, unknown>): FieldProblem[] {
  const result = validateInput(dto, query);
  return 'problems' in result ? result.problems : [];
}

const STATUS_LIST = `status must be one or a comma-separated list of ${COMMAND_STATUSES.join(', ')}`;
const INSTANT = 'must be an ISO 8601 date and time with Z or an offset, e.g. 2026-11-26T05:00:00Z';
const LIMIT = 'limit must be a whole number from 1 to 500';
const CURSOR = encodeListCursor({
  order: 'newest',
  at: '2026-11-26T05:00:00.000Z',
  commandId: 'c-1',
});

const SAMPLES: [Record<string, unknown>, string[]][] = [
  [{}, []],
  [
    { deviceId: 'd-1', status: 'SENT', since: '2026-11-26T00:00:00Z', limit: '50', cursor: CURSOR },
    [],
  ],
  [{ status: 'SENT,DELIVERED,SUCCESSFUL' }, []],
  [{ status: 'SENT,' }, [STATUS_LIST]],
  [{ status: 'sent' }, [STATUS_LIST]],
  [{ status: '' }, [STATUS_LIST]],
  [{ status: 'SENT, FAILED' }, [STATUS_LIST]],
  [{ deviceId: '' }, ['deviceId must be 1 to 128 characters long']],
  [{ deviceId: 'x'.repeat(129) }, ['deviceId must be 1 to 128 characters long']],
  [{ deviceId: 'a\u0000b' }, ['deviceId must not contain control characters']],
  [{ deviceId: '\ud800' }, ['deviceId must be well-formed Unicode (no lone surrogates)']],
  [{ deviceId: '😀'.repeat(128) }, []],
  [{ since: 'yesterday' }, [`since ${INSTANT}`]],
  [{ since: '2026-11-26T00:00:00' }, [`since ${INSTANT}`]],
  [{ until: '2026-02-30T00:00:00Z' }, [`until ${INSTANT}`]],
  [{ since: '2026-11-26T00:00:00+01:00', until: '2026-11-27T00:00:00.123456Z' }, []],
  ...['0', '501', '999', '1000', '-1', '1.5', '', '05'].map(
    (limit): [Record<string, unknown>, string[]] => [{ limit }, [LIMIT]],
  ),
  ...['1', '500'].map((limit): [Record<string, unknown>, string[]] => [{ limit }, []]),
  [{ cursor: 5 }, ['cursor must be a string']],
  [
    { deviceId: 7, status: 1, since: true, until: {}, limit: 3, cursor: null },
    ['deviceId must be a string', STATUS_LIST, `since ${INSTANT}`, `until ${INSTANT}`, LIMIT],
  ],
  [{ deviceId: null, status: null }, []],
  [
    { deviceId: '', status: 'NOPE', since: 'x', until: 'y', limit: 'z', other: 'ignored' },
    [
      'deviceId must be 1 to 128 characters long',
      STATUS_LIST,
      `since ${INSTANT}`,
      `until ${INSTANT}`,
      LIMIT,
    ],
  ],
];

describe("GET /commands' query", () => {
  it.each(SAMPLES.map(([sample, messages]) => [JSON.stringify(sample), sample, messages]))(
    'answers %s with its problems, in parameter order',
    (_name, sample, messages) => {
      expect(problemsOf(ListCommandsQuery, sample).map((problem) => problem.message)).toEqual(
        messages,
      );
    },
  );

  it('gives each value parsed, and the defaults for what is absent', () => {
    expect(
      parseQuery(ListCommandsQuery, {
        deviceId: 'd',
        status: 'SENT,FAILED',
        since: '2026-11-26T01:00:00+01:00',
        limit: '7',
        cursor: CURSOR,
      }),
    ).toEqual({
      deviceId: 'd',
      deviceIdPrefix: undefined,
      status: ['SENT', 'FAILED'],
      since: new Date('2026-11-26T00:00:00Z'),
      until: undefined,
      updatedBefore: undefined,
      order: 'newest',
      limit: 7,
      cursor: { order: 'newest', at: new Date('2026-11-26T05:00:00Z'), commandId: 'c-1' },
    });
    expect(parseQuery(ListCommandsQuery, {})).toMatchObject({ limit: 50, cursor: undefined });
  });

  it('names each invalid parameter once, in parameter order', () => {
    const fields = problemsOf(ListCommandsQuery, { cursor: 1, limit: '0', deviceId: '' }).map(
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
    expect(problemsOf(ListCommandsQuery, { cursor })).toEqual([
      { field: 'cursor', message: 'cursor is not a cursor this service issued' },
    ]);
  });
});

describe("GET /commands/{commandId}/history's query", () => {
  it('defaults to 100 entries from the start', () => {
    expect(parseQuery(HistoryPageQuery, {})).toEqual({ limit: 100, cursor: undefined });
  });

  it.each(['1', '100', '1000'])('takes limit=%s', (limit) => {
    expect(parseQuery(HistoryPageQuery, { limit }).limit).toBe(Number(limit));
  });

  it.each(['0', '1001', '-1', '1.5', '', '05', 'ten', '99999'])('refuses limit=%s', (limit) => {
    expect(problemsOf(HistoryPageQuery, { limit })).toEqual([
      { field: 'limit', message: 'limit must be a whole number from 1 to 1000' },
    ]);
  });

  it('reads back the entry id its cursor was made from', () => {
    expect(parseQuery(HistoryPageQuery, { cursor: encodeHistoryCursor('123') }).cursor).toBe('123');
  });

  it.each([
    ['not base64url', 'a.b'],
    ['a list cursor', CURSOR],
    ['an id that is not a number', Buffer.from('{"after":"1x"}').toString('base64url')],
    ['an id of zero', Buffer.from('{"after":"0"}').toString('base64url')],
    ['an id as a number', Buffer.from('{"after":5}').toString('base64url')],
    ['null', Buffer.from('null').toString('base64url')],
  ])('refuses a cursor that is %s', (_name, cursor) => {
    expect(problemsOf(HistoryPageQuery, { cursor })).toEqual([
      { field: 'cursor', message: 'cursor is not a cursor this service issued' },
    ]);
  });
});
