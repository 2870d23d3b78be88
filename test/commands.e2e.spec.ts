import { DataSource } from 'typeorm';
import { type TestApp, startTestApp } from './support/test-app.js';
import { callbackBody, newCommandId, registrationBody } from './support/factories.js';

describe('/commands', () => {
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    t = await startTestApp();
    db = t.app.get(DataSource);
  });

  afterAll(async () => {
    await t.close();
  });

  const register = (payload: object) => t.app.inject({ method: 'POST', url: '/commands', payload });
  const push = (payload: object) =>
    t.app.inject({ method: 'POST', url: '/callbacks/command-status', payload });
  const get = (url: string) => t.app.inject({ method: 'GET', url });

  describe('POST /commands', () => {
    it('registers a new command as PENDING with 201, the default deadline and one history entry', async () => {
      const body = registrationBody();
      const before = Date.now();
      const response = await register(body);
      expect(response.statusCode).toBe(201);
      const command = response.json();
      expect(command).toMatchObject({
        commandId: body.commandId,
        deviceId: body.deviceId,
        status: 'PENDING',
        serviceId: 'WaterMeter',
        method: 'SET_TEMPERATURE_READ_PERIOD',
        paras: { value: 5 },
        resultDetail: null,
        version: 1,
        sentAt: null,
        deliveredAt: null,
        completedAt: null,
      });
      const deadline = Date.parse(command.deadline) - Date.parse(command.createdAt);
      expect(deadline).toBe(t.config.commandDeadlineSeconds * 1000);
      expect(Date.parse(command.createdAt)).toBeGreaterThanOrEqual(before - 1000);
      expect(command.history).toEqual([
        expect.objectContaining({
          status: 'PENDING',
          outcome: 'applied',
          source: 'registration',
          payload: body,
        }),
      ]);
      expect(await get(`/commands/${body.commandId as string}`)).toMatchObject({ statusCode: 200 });
      expect((await get(`/commands/${body.commandId as string}`)).json()).toEqual(command);
    });

    it('takes an explicit deadline or timeoutSeconds', async () => {
      const deadline = '2030-01-02T03:04:05.678Z';
      const withDeadline = (await register(registrationBody({ deadline }))).json();
      expect(withDeadline.deadline).toBe(deadline);

      const withTimeout = (await register(registrationBody({ timeoutSeconds: 60 }))).json();
      expect(Date.parse(withTimeout.deadline) - Date.parse(withTimeout.createdAt)).toBe(60_000);

      const withOffset = (
        await register(registrationBody({ deadline: '2030-01-02T05:04:05+02:00' }))
      ).json();
      expect(withOffset.deadline).toBe('2030-01-02T03:04:05.000Z');
    });

    it('answers 200 for a known command, fills in what was missing, and never moves it back', async () => {
      const pushed = callbackBody({ result: { resultCode: 'DELIVERED', resultDetail: null } });
      await push(pushed);
      const response = await register({
        commandId: pushed.commandId,
        deviceId: pushed.deviceId,
        serviceId: 'WaterMeter',
        paras: { value: 7 },
        timeoutSeconds: 120,
      });
      expect(response.statusCode).toBe(200);
      const command = response.json();
      expect(command).toMatchObject({
        status: 'DELIVERED',
        serviceId: 'WaterMeter',
        method: null,
        paras: { value: 7 },
        version: 1,
      });
      expect(Date.parse(command.deadline) - Date.parse(command.updatedAt)).toBe(120_000);
      expect(
        command.history.map((h: { source: string; outcome: string }) => [h.source, h.outcome]),
      ).toEqual([
        ['callback', 'applied'],
        ['registration', 'stale'],
      ]);

      // The method is filled in later; paras already set stay as they were.
      const again = await register({
        commandId: pushed.commandId,
        deviceId: pushed.deviceId,
        method: 'SET_PERIOD',
        paras: { value: 9 },
      });
      expect(again.statusCode).toBe(200);
      expect(again.json()).toMatchObject({ method: 'SET_PERIOD', paras: { value: 7 } });
    });

    it('keeps the deadline of a known command when the registration names none', async () => {
      const body = registrationBody({ timeoutSeconds: 30 });
      const first = (await register(body)).json();
      const second = (
        await register({ commandId: body.commandId, deviceId: body.deviceId })
      ).json();
      expect(second.deadline).toBe(first.deadline);
    });

    it('applies a registration status by the rank rule, with source registration', async () => {
      const body = registrationBody({ status: 'SENT' });
      expect((await register(body)).json()).toMatchObject({ status: 'SENT', version: 1 });
      const pushed = await push({
        deviceId: body.deviceId,
        commandId: body.commandId,
        result: { resultCode: 'SENT' },
      });
      expect(pushed.json()).toMatchObject({ status: 'SENT', outcome: 'duplicate' });
      const delivered = await register({ ...body, status: 'DELIVERED' });
      expect(delivered.statusCode).toBe(200);
      expect(delivered.json()).toMatchObject({ status: 'DELIVERED', version: 2 });
      expect(delivered.json().history.at(-1)).toMatchObject({
        status: 'DELIVERED',
        outcome: 'applied',
        source: 'registration',
      });
    });

    it.each([
      ['another deviceId', { deviceId: 'someone-else' }],
      ['another serviceId', { serviceId: 'OtherService' }],
      ['another method', { method: 'OTHER_METHOD' }],
    ])('refuses a known command under %s with 409 and changes nothing', async (_name, change) => {
      const body = registrationBody();
      await register(body);
      const response = await register({ ...body, ...change, status: 'SENT' });
      expect(response.statusCode).toBe(409);
      expect(response.headers['content-type']).toContain('application/problem+json');
      const command = (await get(`/commands/${body.commandId as string}`)).json();
      expect(command).toMatchObject({ status: 'PENDING', version: 1, serviceId: 'WaterMeter' });
      expect(command.history).toHaveLength(1);
    });

    it.each([
      [
        'both deadline and timeoutSeconds',
        { deadline: '2030-01-01T00:00:00Z', timeoutSeconds: 5 },
        'deadline',
      ],
      ['a deadline without an offset', { deadline: '2030-01-01T00:00:00' }, 'deadline'],
      ['a deadline that is no date', { deadline: 'tomorrow' }, 'deadline'],
      ['timeoutSeconds 0', { timeoutSeconds: 0 }, 'timeoutSeconds'],
      ['timeoutSeconds over a year', { timeoutSeconds: 31536001 }, 'timeoutSeconds'],
      ['fractional timeoutSeconds', { timeoutSeconds: 1.5 }, 'timeoutSeconds'],
      ['an unknown status', { status: 'DONE' }, 'status'],
      ['paras that are not an object', { paras: [1, 2] }, 'paras'],
      ['a serviceId over 128 characters', { serviceId: 's'.repeat(129) }, 'serviceId'],
      ['a numeric method', { method: 5 }, 'method'],
      ['a missing deviceId', { deviceId: undefined }, 'deviceId'],
    ])('refuses %s with 400 and stores nothing', async (_name, change, field) => {
      const body: Record<string, unknown> = { ...registrationBody(), ...change };
      const response = await register(body);
      expect(response.statusCode).toBe(400);
      const problem = response.json();
      expect(problem.errors.map((e: { field: string }) => e.field)).toContain(field);
      expect((await get(`/commands/${body.commandId as string}`)).statusCode).toBe(404);
    });

    it('accepts timeoutSeconds at both ends of its range', async () => {
      expect((await register(registrationBody({ timeoutSeconds: 1 }))).statusCode).toBe(201);
      expect((await register(registrationBody({ timeoutSeconds: 31536000 }))).statusCode).toBe(201);
    });
  });

  describe('GET /commands/{commandId}', () => {
    it('answers 404 as problem details for an unknown command', async () => {
      const response = await get(`/commands/${newCommandId()}`);
      expect(response.statusCode).toBe(404);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json()).toMatchObject({
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
      });
    });

    it('finds an id of 128 characters, multi-byte ones too', async () => {
      for (const commandId of ['x'.repeat(128), '指'.repeat(128)]) {
        await push(callbackBody({ commandId }));
        const response = await get(`/commands/${encodeURIComponent(commandId)}`);
        expect(response.statusCode).toBe(200);
        expect(response.json().commandId).toBe(commandId);
      }
    });

    it('answers 400 for an id over 128 characters', async () => {
      const response = await get(`/commands/${'x'.repeat(129)}`);
      expect(response.statusCode).toBe(400);
    });

    it('sends the command as JSON exactly: escapes, Unicode, nested values and key order', async () => {
      // Bodies are rendered as JSON text by PostgreSQL (commands.repository.ts), not by JSON.stringify.
      const commandId = `q"uote\\back/slash ✓ 😀 ${newCommandId()}`;
      const deviceId = `dev "😀" ${newCommandId()}`;
      const detail = {
        text: 'tab\there "q" \\ \u2028 ünï 😀',
        n: 1.5,
        e: 1e-7,
        list: [1, null, true, {}],
      };
      const body = { ...callbackBody({ commandId, deviceId }), extra: { nested: [[], {}, 'x'] } };
      body.result = { resultCode: 'SUCCESSFUL', resultDetail: detail };
      expect((await push(body)).statusCode).toBe(200);

      const response = await get(`/commands/${encodeURIComponent(commandId)}`);
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(Number(response.headers['content-length'])).toBe(Buffer.byteLength(response.body));
      const command = response.json();
      expect(Object.keys(command)).toEqual([
        'commandId',
        'deviceId',
        'status',
        'resultDetail',
        'serviceId',
        'method',
        'paras',
        'createdAt',
        'updatedAt',
        'deadline',
        'sentAt',
        'deliveredAt',
        'completedAt',
        'version',
        'historyTruncated',
        'history',
      ]);
      expect(command).toMatchObject({ commandId, deviceId, status: 'SUCCESSFUL', version: 1 });
      expect(command.resultDetail).toEqual(detail);
      expect(command.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(command.completedAt).toBe(command.createdAt);
      expect(command.history).toHaveLength(1);
      expect(Object.keys(command.history[0])).toEqual([
        'id',
        'status',
        'outcome',
        'source',
        'resultDetail',
        'payload',
        'receivedAt',
      ]);
      expect(command.history[0]).toMatchObject({ status: 'SUCCESSFUL', resultDetail: detail });
      expect(command.history[0].payload).toEqual(body);

      const listed = await get(`/commands?deviceId=${encodeURIComponent(deviceId)}`);
      expect(listed.headers['content-type']).toBe('application/json; charset=utf-8');
      const { history, historyTruncated, ...withoutHistory } = command;
      expect(historyTruncated).toBe(false);
      expect(history).toBeDefined();
      expect(listed.json()).toEqual({ items: [withoutHistory], nextCursor: null });
    });

    it('finds ids with reserved URL characters', async () => {
      const commandId = 'a/b?c#d %e';
      await push(callbackBody({ commandId }));
      const response = await get(`/commands/${encodeURIComponent(commandId)}`);
      expect(response.statusCode).toBe(200);
      expect(response.json().commandId).toBe(commandId);
    });
  });

  describe('GET /commands', () => {
    const deviceId = `list-device-${newCommandId()}`;
    const ids: string[] = [];

    beforeAll(async () => {
      // 25 commands; groups of them share one createdAt so that the commandId tie-break matters.
      for (let i = 0; i < 25; i++) {
        const commandId = `cmd-${String(i).padStart(2, '0')}-${newCommandId().slice(0, 6)}`;
        ids.push(commandId);
        const resultCode = i % 3 === 0 ? 'SUCCESSFUL' : i % 3 === 1 ? 'SENT' : 'DELIVERED';
        await push(callbackBody({ deviceId, commandId, result: { resultCode } }));
      }
      await db.query(
        `UPDATE commands SET created_at = timestamptz '2026-01-01T00:00:00Z' + (substr(command_id, 5, 2)::int / 5) * interval '1 hour'
         WHERE device_id = $1`,
        [deviceId],
      );
    });

    const list = async (query: string) => {
      const response = await get(`/commands?${query}`);
      expect(response.statusCode).toBe(200);
      return response.json<{
        items: { commandId: string; createdAt: string; status: string }[];
        nextCursor: string | null;
      }>();
    };

    const walk = async (query: string) => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await list(`${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        seen.push(...page.items.map((item) => item.commandId));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null && pages < 100);
      return { seen, pages };
    };

    it('pages through a device newest first, with no command repeated or skipped', async () => {
      const { seen, pages } = await walk(`deviceId=${deviceId}&limit=4`);
      expect(pages).toBe(7);
      const expected = [...ids].sort((a, b) => {
        const hourA = Math.floor(Number(a.slice(4, 6)) / 5);
        const hourB = Math.floor(Number(b.slice(4, 6)) / 5);
        return hourB - hourA || (a < b ? 1 : a > b ? -1 : 0);
      });
      expect(seen).toEqual(expected);
    });

    it('ends with nextCursor null when the last page is exactly full', async () => {
      const { seen, pages } = await walk(`deviceId=${deviceId}&limit=5`);
      expect(seen).toHaveLength(25);
      expect(pages).toBe(5);
    });

    it('filters by one status or a list of them', async () => {
      const successful = await walk(`deviceId=${deviceId}&status=SUCCESSFUL&limit=3`);
      expect(successful.seen).toHaveLength(9);
      const open = await walk(`deviceId=${deviceId}&status=SENT,DELIVERED&limit=50`);
      expect(open.seen).toHaveLength(16);
      const page = await list(`deviceId=${deviceId}&status=SENT,DELIVERED`);
      expect(new Set(page.items.map((item) => item.status))).toEqual(
        new Set(['SENT', 'DELIVERED']),
      );
    });

    it('filters by createdAt, since inclusive and until exclusive, with Z or an offset', async () => {
      const hourOne = await walk(
        `deviceId=${deviceId}&since=2026-01-01T01:00:00Z&until=2026-01-01T02:00:00Z`,
      );
      expect(hourOne.seen.sort()).toEqual(ids.slice(5, 10).sort());
      const offset = await walk(
        `deviceId=${deviceId}&since=${encodeURIComponent('2026-01-01T05:00:00+02:00')}`,
      );
      expect(offset.seen).toHaveLength(10);
    });

    it('lists every command newest first without a filter, default 50 a page', async () => {
      const page = await list('');
      expect(page.items.length).toBeGreaterThanOrEqual(25);
      expect(page.items.length).toBeLessThanOrEqual(50);
      const times = page.items.map((item) => Date.parse(item.createdAt));
      expect([...times].sort((a, b) => b - a)).toEqual(times);
      expect(page.items[0]).not.toHaveProperty('history');
    });

    it.each([
      ['limit=0', 'limit'],
      ['limit=501', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=-1', 'limit'],
      ['status=sent', 'status'],
      ['status=SENT,', 'status'],
      ['status=SENT,NOPE', 'status'],
      ['since=yesterday', 'since'],
      ['since=2026-01-01T00:00:00', 'since'],
      ['until=2026-13-01T00:00:00Z', 'until'],
      ['cursor=not-a-cursor!', 'cursor'],
      [`cursor=${Buffer.from('["x","y"]').toString('base64url')}`, 'cursor'],
      [`cursor=${Buffer.from('{"a":1}').toString('base64url')}`, 'cursor'],
      [`deviceId=${'d'.repeat(129)}`, 'deviceId'],
      ['deviceId=a&deviceId=b', 'deviceId'],
    ])('answers %s with 400 problem details', async (query, field) => {
      const response = await get(`/commands?${query}`);
      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json().errors.map((e: { field: string }) => e.field)).toContain(field);
    });

    it('accepts limit at both ends of its range', async () => {
      expect((await list('limit=1')).items).toHaveLength(1);
      expect((await list('limit=500')).items.length).toBeGreaterThan(1);
    });
  });
});
