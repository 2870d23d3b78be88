import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { COMMAND_STATUSES } from '../src/commands/command-status.js';
import { type TestApp, startTestApp } from './support/test-app.js';

// GET /commands' filters and orders (deviceIdPrefix, updatedBefore, order=silent) and
// GET /analytics/counts, against an oracle computed here from the stored rows. Commands are seeded
// with SQL, with few distinct times so that the commandId tie-breaks matter.

interface Row {
  commandId: string;
  deviceId: string;
  status: string;
  serviceId: string | null;
  method: string | null;
  createdAt: number;
  updatedAt: number;
}

interface Filter {
  deviceId?: string;
  deviceIdPrefix?: string;
  status?: string[];
  since?: number;
  until?: number;
  updatedBefore?: number;
}

const BASE = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;
const MINUTE = 60_000;
const DEVICES = ['dev-a1', 'dev-a2', 'dev-b1', 'dev-b10', 'dev-b2', 'дев-1', 'other'];
const PREFIXES = ['dev-', 'dev-a', 'dev-b1', 'д', 'dev-b10', 'x', 'o'];
const COMMANDS: [string | null, string | null][] = [
  ['WaterMeter', 'SET_PERIOD'],
  ['WaterMeter', 'READ'],
  ['Light', 'ON'],
  [null, null],
];
const ROWS = 120;

// Code point order, as PostgreSQL compares COLLATE "C" text.
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function matches(row: Row, filter: Filter): boolean {
  return (
    (filter.deviceId === undefined || row.deviceId === filter.deviceId) &&
    (filter.deviceIdPrefix === undefined || row.deviceId.startsWith(filter.deviceIdPrefix)) &&
    (filter.status === undefined || filter.status.includes(row.status)) &&
    (filter.since === undefined || row.createdAt >= filter.since) &&
    (filter.until === undefined || row.createdAt < filter.until) &&
    (filter.updatedBefore === undefined || row.updatedAt < filter.updatedBefore)
  );
}

function queryOf(filter: Filter): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(filter) as [
    string,
    string | string[] | number | undefined,
  ][]) {
    if (value === undefined) {
      continue;
    }
    params.set(
      name,
      Array.isArray(value)
        ? value.join(',')
        : typeof value === 'number'
          ? new Date(value).toISOString()
          : value,
    );
  }
  return params.toString();
}

describe('GET /commands filters and orders, GET /analytics/counts', () => {
  let t: TestApp;
  let rows: Row[];

  beforeAll(async () => {
    t = await startTestApp();
    const db = t.app.get(DataSource);
    const seed = Array.from({ length: ROWS }, (_, i) => {
      const [serviceId, method] = COMMANDS[i % 4 === 3 ? 3 : (i * 7) % 3];
      return {
        commandId: `c${String((i * 37) % ROWS).padStart(3, '0')}`,
        deviceId: DEVICES[(i * 5) % DEVICES.length],
        status: COMMAND_STATUSES[(i * 3) % COMMAND_STATUSES.length],
        serviceId,
        method,
        createdAt: BASE + ((i * 11) % 6) * HOUR,
        updatedAt: BASE + 6 * HOUR + ((i * 13) % 9) * MINUTE,
      };
    });
    const ranks: Record<string, number> = {
      PENDING: 0,
      SENT: 1,
      DELIVERED: 2,
      TIMEOUT: 3,
      EXPIRED: 3,
      CANCELED: 3,
      SUCCESSFUL: 4,
      FAILED: 4,
    };
    await db.query(
      `INSERT INTO commands (command_id, device_id, status, rank, service_id, method,
                             created_at, updated_at, deadline, version)
       SELECT r.command_id, r.device_id, r.status, r.rank, r.service_id, r.method,
              r.created_at, r.updated_at, r.created_at + interval '1 day', 1
       FROM json_to_recordset($1::json) AS r(command_id text, device_id text, status text,
            rank smallint, service_id text, method text, created_at timestamptz,
            updated_at timestamptz)`,
      [
        JSON.stringify(
          seed.map((row) => ({
            command_id: row.commandId,
            device_id: row.deviceId,
            status: row.status,
            rank: ranks[row.status],
            service_id: row.serviceId,
            method: row.method,
            created_at: new Date(row.createdAt).toISOString(),
            updated_at: new Date(row.updatedAt).toISOString(),
          })),
        ),
      ],
    );
    rows = seed;
  });

  afterAll(async () => {
    await t.close();
  });

  const get = (url: string) => t.app.inject({ method: 'GET', url });

  async function walk(query: string): Promise<string[]> {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 200; pages++) {
      const response = await get(
        `/commands?${query}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      );
      expect(response.statusCode).toBe(200);
      const page = response.json<{ items: { commandId: string }[]; nextCursor: string | null }>();
      seen.push(...page.items.map((item) => item.commandId));
      cursor = page.nextCursor;
      if (cursor === null) {
        return seen;
      }
    }
    throw new Error('more than 200 pages');
  }

  function expectedList(filter: Filter, order: 'newest' | 'silent'): string[] {
    const sorted = rows
      .filter((row) => matches(row, filter))
      .sort((a, b) =>
        order === 'newest'
          ? b.createdAt - a.createdAt || byBytes(b.commandId, a.commandId)
          : a.updatedAt - b.updatedAt || byBytes(a.commandId, b.commandId),
      );
    return sorted.map((row) => row.commandId);
  }

  const times = (from: number, step: number, count: number) =>
    fc.option(
      fc.integer({ min: 0, max: count }).map((n) => from + n * step),
      { nil: undefined },
    );

  const filters: fc.Arbitrary<Filter> = fc.record({
    deviceId: fc.option(fc.constantFrom(...DEVICES), { nil: undefined }),
    status: fc.option(fc.subarray([...COMMAND_STATUSES], { minLength: 1 }), { nil: undefined }),
    since: times(BASE, HOUR, 6),
    until: times(BASE, HOUR, 6),
    updatedBefore: times(BASE + 6 * HOUR, MINUTE, 9),
  });
  const prefixFilters: fc.Arbitrary<Filter> = fc
    .tuple(filters, fc.constantFrom(...PREFIXES))
    .map(([filter, deviceIdPrefix]) => ({ ...filter, deviceId: undefined, deviceIdPrefix }));

  it('pages through every filter and both orders without repeating or skipping a command', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(filters, prefixFilters),
        fc.constantFrom('newest' as const, 'silent' as const),
        fc.integer({ min: 1, max: 9 }),
        async (filter, order, limit) => {
          const seen = await walk(`${queryOf(filter)}&order=${order}&limit=${limit}`);
          expect(seen).toEqual(expectedList(filter, order));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('lists the longest silent first by default page size, open commands silent since a time', async () => {
    const filter: Filter = {
      status: ['PENDING', 'SENT', 'DELIVERED'],
      updatedBefore: BASE + 6 * HOUR + 5 * MINUTE,
    };
    const response = await get(`/commands?${queryOf(filter)}&order=silent`);
    const page = response.json<{ items: { commandId: string; updatedAt: string }[] }>();
    const expected = expectedList(filter, 'silent');
    expect(expected.length).toBeGreaterThan(5);
    expect(page.items.map((item) => item.commandId)).toEqual(expected.slice(0, 50));
    expect(page.items[0].updatedAt).toBe(new Date(BASE + 6 * HOUR).toISOString());
  });

  it('counts every filter, in total and grouped, largest groups first', async () => {
    const keyOf = (row: Row, groupBy: 'status' | 'deviceId' | 'command'): string =>
      JSON.stringify(
        groupBy === 'status'
          ? { status: row.status }
          : groupBy === 'deviceId'
            ? { deviceId: row.deviceId }
            : { serviceId: row.serviceId, method: row.method },
      );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(filters, prefixFilters),
        fc.constantFrom(undefined, 'status' as const, 'deviceId' as const, 'command' as const),
        fc.integer({ min: 1, max: 12 }),
        async (filter, groupBy, limit) => {
          const response = await get(
            `/analytics/counts?${queryOf(filter)}&limit=${limit}${groupBy === undefined ? '' : `&groupBy=${groupBy}`}`,
          );
          expect(response.statusCode).toBe(200);
          const body = response.json<{
            total: number;
            groups: { key: Record<string, unknown>; count: number }[];
          }>();
          const matching = rows.filter((row) => matches(row, filter));
          expect(body.total).toBe(matching.length);
          if (groupBy === undefined) {
            expect(body.groups).toEqual([]);
            return;
          }
          const counts = new Map<string, number>();
          for (const row of matching) {
            const key = keyOf(row, groupBy);
            counts.set(key, (counts.get(key) ?? 0) + 1);
          }
          const received = body.groups.map((group) => [JSON.stringify(group.key), group.count]);
          expect(received.length).toBe(Math.min(limit, counts.size));
          for (const [key, count] of received) {
            expect(counts.get(key as string)).toBe(count);
          }
          const sizes = received.map(([, count]) => count as number);
          expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
          // No group left out is larger than one given.
          const smallest = sizes.length > 0 ? Math.min(...sizes) : 0;
          const given = new Set(received.map(([key]) => key));
          for (const [key, count] of counts) {
            if (!given.has(key)) {
              expect(count).toBeLessThanOrEqual(smallest);
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('gives the key of each grouping as the contract names it', async () => {
    const byCommand = await get('/analytics/counts?groupBy=command&limit=500');
    expect(byCommand.statusCode).toBe(200);
    expect(byCommand.headers['content-type']).toContain('application/json');
    const body = byCommand.json<{ total: number; groups: { key: object; count: number }[] }>();
    expect(body.total).toBe(ROWS);
    expect(body.groups.map((group) => group.key)).toEqual(
      expect.arrayContaining([
        { serviceId: 'Light', method: 'ON' },
        { serviceId: null, method: null },
      ]),
    );
    const none = await get('/analytics/counts?deviceId=nobody&groupBy=deviceId');
    expect(none.json()).toEqual({ total: 0, groups: [] });
  });

  it.each([
    ['deviceId with deviceIdPrefix', '/commands?deviceId=a&deviceIdPrefix=a', 'deviceIdPrefix'],
    ['the same on counts', '/analytics/counts?deviceId=a&deviceIdPrefix=a', 'deviceIdPrefix'],
    ['an unknown order', '/commands?order=oldest', 'order'],
    ['an empty prefix', '/commands?deviceIdPrefix=', 'deviceIdPrefix'],
    [
      'updatedBefore without an offset',
      '/commands?updatedBefore=2026-01-01T00:00:00',
      'updatedBefore',
    ],
    ['an unknown groupBy', '/analytics/counts?groupBy=method', 'groupBy'],
    ['groups past 500', '/analytics/counts?limit=501', 'limit'],
    [
      'a parameter counts do not take is ignored, not refused',
      '/analytics/counts?order=x&groupBy=x',
      'groupBy',
    ],
  ])('refuses %s with 400 naming the field', async (_name, url, field) => {
    const response = await get(url);
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json<{ errors: { field: string }[] }>().errors.map((e) => e.field)).toEqual([
      field,
    ]);
  });

  it('refuses a cursor issued for the other order with 400', async () => {
    for (const [from, to] of [
      ['silent', 'newest'],
      ['newest', 'silent'],
    ]) {
      const first = await get(`/commands?order=${from}&limit=2`);
      const cursor = first.json<{ nextCursor: string }>().nextCursor;
      const response = await get(`/commands?order=${to}&cursor=${encodeURIComponent(cursor)}`);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({
        errors: [{ field: 'cursor', message: `cursor continues order=${from}, not order=${to}` }],
      });
    }
  });
});
