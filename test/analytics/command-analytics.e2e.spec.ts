import { DataSource } from 'typeorm';
import { eventually } from '../support/eventually.js';
import { callbackBody, registrationBody } from '../support/factories.js';
import { type TestApp, startTestApp } from '../support/test-app.js';

interface RawRow {
  service_id: string;
  method: string;
  status: string;
  created_at: Date;
  sent_at: Date | null;
  delivered_at: Date | null;
  completed_at: Date | null;
}

interface Percentiles {
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

interface Analytics {
  commands: number;
  final: Record<string, number>;
  successPercent: number | null;
  latencyMs: { toSent: Percentiles; toDelivered: Percentiles; toFinal: Percentiles };
  byCommand: (Omit<Analytics, 'byCommand'> & { serviceId: string; method: string })[];
}

/** PostgreSQL's percentile_cont: linear interpolation between the nearest ranks. */
function percentileCont(values: number[], p: number): number | null {
  if (values.length === 0) {
    return null;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const position = p * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
}

function expected(rows: RawRow[]): Omit<Analytics, 'byCommand'> {
  const latency = (column: 'sent_at' | 'delivered_at' | 'completed_at'): Percentiles => {
    const values = rows
      .filter((row) => row[column] !== null)
      .map((row) => row[column]!.getTime() - row.created_at.getTime());
    return {
      p50: percentileCont(values, 0.5),
      p90: percentileCont(values, 0.9),
      p99: percentileCont(values, 0.99),
    };
  };
  const final = Object.fromEntries(
    ['TIMEOUT', 'EXPIRED', 'CANCELED', 'SUCCESSFUL', 'FAILED'].map((status) => [
      status,
      rows.filter((row) => row.status === status).length,
    ]),
  );
  const finalCount = Object.values(final).reduce((a, b) => a + b, 0);
  return {
    commands: rows.length,
    final,
    successPercent: finalCount === 0 ? null : (final.SUCCESSFUL * 100) / finalCount,
    latencyMs: {
      toSent: latency('sent_at'),
      toDelivered: latency('delivered_at'),
      toFinal: latency('completed_at'),
    },
  };
}

function expectClose(actual: Omit<Analytics, 'byCommand'>, wanted: Omit<Analytics, 'byCommand'>) {
  expect(actual.commands).toBe(wanted.commands);
  expect(actual.final).toEqual(wanted.final);
  expect(actual.successPercent).toBeCloseTo(wanted.successPercent ?? NaN, 6);
  for (const phase of ['toSent', 'toDelivered', 'toFinal'] as const) {
    for (const p of ['p50', 'p90', 'p99'] as const) {
      const want = wanted.latencyMs[phase][p];
      if (want === null) {
        expect(actual.latencyMs[phase][p]).toBeNull();
      } else {
        expect(actual.latencyMs[phase][p]).toBeCloseTo(want, 3);
      }
    }
  }
}

describe('GET /analytics/commands', () => {
  let t: TestApp;
  let db: DataSource;
  const run = Math.random().toString(36).slice(2, 8);
  // A window of its own in the past, so other commands stay out of the overall figures.
  const since = '2020-03-01T00:00:00.000Z';
  const until = '2020-03-02T00:00:00.000Z';
  let reported = 0;

  beforeAll(async () => {
    t = await startTestApp();
    db = t.app.get(DataSource);
    const groups = [
      { serviceId: `Meter-${run}`, method: 'SET_PERIOD' },
      { serviceId: `Valve-${run}`, method: 'OPEN' },
    ];
    for (let i = 0; i < 40; i++) {
      const group = groups[i % 2];
      const body = registrationBody({ ...group, deviceId: `analytics-${run}-${i}` });
      expect(
        (await t.app.inject({ method: 'POST', url: '/commands', payload: body })).statusCode,
      ).toBe(201);
      // Some stop at PENDING, SENT or DELIVERED; the rest end SUCCESSFUL, FAILED or TIMEOUT.
      const path = [
        'SENT',
        'DELIVERED',
        i % 5 === 0 ? 'FAILED' : i % 7 === 0 ? 'TIMEOUT' : 'SUCCESSFUL',
      ];
      const steps = i % 8 === 1 ? 0 : i % 8 === 2 ? 1 : i % 8 === 3 ? 2 : 3;
      for (const resultCode of path.slice(0, steps)) {
        const push = await t.app.inject({
          method: 'POST',
          url: '/callbacks/command-status',
          payload: callbackBody({
            deviceId: body.deviceId as string,
            commandId: body.commandId as string,
            result: { resultCode },
          }),
        });
        expect(push.statusCode).toBe(200);
        reported++;
      }
      // Spread the stored times over the window, as if the commands took seconds to hours.
      await db.query(
        `UPDATE commands SET
           created_at = $2::timestamptz,
           sent_at = $2::timestamptz + (sent_at - created_at) + make_interval(secs => $3),
           delivered_at = $2::timestamptz + (delivered_at - created_at) + make_interval(secs => $3 * 2.5),
           completed_at = $2::timestamptz + (completed_at - created_at) + make_interval(secs => $3 * 7.25)
         WHERE command_id = $1`,
        [body.commandId, new Date(Date.parse(since) + i * 60_000), ((i * 37) % 41) + i / 8],
      );
    }
  });

  afterAll(async () => {
    await t.close();
  });

  const analytics = async (query: string): Promise<Analytics> => {
    const response = await t.app.inject({ method: 'GET', url: `/analytics/commands?${query}` });
    expect(response.statusCode).toBe(200);
    return response.json<Analytics>();
  };
  const rawRows = (serviceId?: string): Promise<RawRow[]> =>
    db.query(
      `SELECT service_id, method, status, created_at, sent_at, delivered_at, completed_at
       FROM commands WHERE created_at >= $1 AND created_at < $2
         AND ($3::text IS NULL OR service_id = $3)`,
      [since, until, serviceId ?? null],
    );

  it('gives the counts and percentiles the raw rows give, overall and by command', async () => {
    const rows = await rawRows();
    expect(rows).toHaveLength(40);
    const result = await analytics(`since=${since}&until=${until}`);
    expectClose(result, expected(rows));
    expect(result.byCommand.map((group) => group.serviceId)).toEqual([
      `Meter-${run}`,
      `Valve-${run}`,
    ]);
    for (const group of result.byCommand) {
      expect(group.method).toBe(group.serviceId.startsWith('Meter') ? 'SET_PERIOD' : 'OPEN');
      expectClose(group, expected(rows.filter((row) => row.service_id === group.serviceId)));
    }
  });

  it('filters by serviceId, method and deviceId', async () => {
    const meter = await analytics(`serviceId=Meter-${run}&method=SET_PERIOD`);
    expectClose(meter, expected(await rawRows(`Meter-${run}`)));
    expect(meter.byCommand).toHaveLength(1);
    const none = await analytics(`serviceId=Meter-${run}&method=OPEN`);
    expect(none).toMatchObject({ commands: 0, successPercent: null, byCommand: [] });
    expect(none.latencyMs.toSent).toEqual({ p50: null, p90: null, p99: null });
    const device = await analytics(`deviceId=analytics-${run}-4`);
    expect(device.commands).toBe(1);
  });

  it.each([
    ['since', 'since=yesterday'],
    ['campaignId', `campaignId=${'x'.repeat(129)}`],
    ['method', 'method='],
  ])('answers 400 naming %s', async (field, query) => {
    const response = await t.app.inject({ method: 'GET', url: `/analytics/commands?${query}` });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors[0].field).toBe(field);
  });

  it('observes command_latency_seconds{phase} in /metrics as changes are applied', async () => {
    const count = async (phase: string) => {
      const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
      const match = new RegExp(
        `^command_latency_seconds_count\\{phase="${phase}"\\} (\\d+)`,
        'm',
      ).exec(text);
      return match === null ? 0 : Number(match[1]);
    };
    const rows = await rawRows();
    const sent = rows.filter((row) => row.sent_at !== null).length;
    const delivered = rows.filter((row) => row.delivered_at !== null).length;
    const final = rows.filter((row) => row.completed_at !== null).length;
    expect(reported).toBe(sent + delivered + final);
    await eventually(
      async () =>
        (await count('toSent')) === sent &&
        (await count('toDelivered')) === delivered &&
        (await count('toFinal')) === final,
      5000,
      () => 'every applied SENT, DELIVERED and final status observed once',
    );
  });
});
