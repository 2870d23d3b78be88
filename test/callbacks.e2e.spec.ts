import { type TestApp, startTestApp } from './support/test-app.js';
import { callbackBody } from './support/factories.js';

describe('POST /callbacks/command-status', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  const push = (payload: unknown, query = '') =>
    t.app.inject({
      method: 'POST',
      url: `/callbacks/command-status${query}`,
      payload: payload as object,
    });
  const getCommand = (commandId: string) =>
    t.app.inject({ method: 'GET', url: `/commands/${encodeURIComponent(commandId)}` });

  it("answers the seed's SENT callback with 200 and creates the command with one history entry", async () => {
    const body = {
      deviceId: '92d3f8da-200a-4143-8d0d-591a7e11de6c',
      commandId: '108a9c71462a48e09426e06e844d47ba',
      result: { resultCode: 'SENT', resultDetail: null },
    };
    const response = await push(body);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      commandId: '108a9c71462a48e09426e06e844d47ba',
      status: 'SENT',
      outcome: 'applied',
    });

    const command = (await getCommand(body.commandId)).json();
    expect(command).toMatchObject({
      commandId: body.commandId,
      deviceId: body.deviceId,
      status: 'SENT',
      resultDetail: null,
      version: 1,
      deliveredAt: null,
      completedAt: null,
    });
    expect(command.sentAt).toBe(command.createdAt);
    expect(command.history).toHaveLength(1);
    expect(command.history[0]).toMatchObject({
      status: 'SENT',
      outcome: 'applied',
      source: 'callback',
      resultDetail: null,
      payload: body,
    });
  });

  it('walks a whole lifecycle and records every report with its outcome', async () => {
    const base = callbackBody();
    const send = (resultCode: string, resultDetail: unknown = null) =>
      push({ ...base, result: { resultCode, resultDetail } });

    const outcomes: string[] = [];
    for (const code of ['SENT', 'SENT', 'DELIVERED', 'SENT', 'SUCCESSFUL', 'FAILED']) {
      const detail =
        code === 'SUCCESSFUL' ? { value: 1 } : code === 'FAILED' ? { reason: 'x' } : null;
      const response = await send(code, detail);
      expect(response.statusCode).toBe(200);
      outcomes.push(response.json().outcome);
    }
    expect(outcomes).toEqual(['applied', 'duplicate', 'applied', 'stale', 'applied', 'conflict']);

    const command = (await getCommand(base.commandId)).json();
    expect(command.status).toBe('SUCCESSFUL');
    expect(command.resultDetail).toEqual({ value: 1 });
    expect(command.version).toBe(3);
    expect(command.sentAt).not.toBeNull();
    expect(command.deliveredAt).not.toBeNull();
    expect(command.completedAt).not.toBeNull();
    expect(command.history.map((h: { status: string }) => h.status)).toEqual([
      'SENT',
      'SENT',
      'DELIVERED',
      'SENT',
      'SUCCESSFUL',
      'FAILED',
    ]);
    const ids = command.history.map((h: { id: string }) => Number(h.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  });

  it('applies SUCCESSFUL after SENT when DELIVERED was lost, and a late result after TIMEOUT', async () => {
    const lost = callbackBody();
    await push(lost);
    const success = await push({
      ...lost,
      result: { resultCode: 'SUCCESSFUL', resultDetail: { v: 2 } },
    });
    expect(success.json()).toMatchObject({ status: 'SUCCESSFUL', outcome: 'applied' });

    const late = callbackBody({ result: { resultCode: 'TIMEOUT' } });
    expect((await push(late)).json()).toMatchObject({ status: 'TIMEOUT', outcome: 'applied' });
    const result = await push({ ...late, result: { resultCode: 'SUCCESSFUL' } });
    expect(result.json()).toMatchObject({ status: 'SUCCESSFUL', outcome: 'applied' });
    const command = (await getCommand(late.commandId)).json();
    expect(command.completedAt).not.toBeNull();
    expect(command.sentAt).toBeNull();
    expect(command.version).toBe(2);
  });

  it('keeps resultDetail of the report that set the current status', async () => {
    const body = callbackBody({
      result: { resultCode: 'FAILED', resultDetail: { reason: 'first' } },
    });
    await push(body);
    await push({
      ...body,
      result: { resultCode: 'SUCCESSFUL', resultDetail: { reason: 'second' } },
    });
    const command = (await getCommand(body.commandId)).json();
    expect(command.status).toBe('FAILED');
    expect(command.resultDetail).toEqual({ reason: 'first' });
    expect(command.history[1]).toMatchObject({
      outcome: 'conflict',
      resultDetail: { reason: 'second' },
    });
  });

  it('treats an absent resultDetail as null and keeps unknown fields in the stored payload', async () => {
    const body = {
      ...callbackBody({ result: { resultCode: 'DELIVERED' } }),
      extra: { nested: [1, 'two'] },
    };
    expect((await push(body)).statusCode).toBe(200);
    const command = (await getCommand(body.commandId)).json();
    expect(command.resultDetail).toBeNull();
    expect(command.history[0].payload).toEqual(body);
    expect(command.history[0].resultDetail).toBeNull();
  });

  it('refuses a report for a command known under another deviceId with 409 and applies nothing', async () => {
    const body = callbackBody();
    await push(body);
    const response = await push({
      ...body,
      deviceId: 'another-device',
      result: { resultCode: 'SUCCESSFUL' },
    });
    expect(response.statusCode).toBe(409);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json()).toMatchObject({ type: 'about:blank', title: 'Conflict', status: 409 });
    const command = (await getCommand(body.commandId)).json();
    expect(command.status).toBe('SENT');
    expect(command.history).toHaveLength(1);
  });

  it('stores SQL metacharacters and any Unicode literally', async () => {
    const commandId = `'; DROP TABLE commands; --😀 ünï`;
    const detail = { text: "Robert'); DROP TABLE command_history;--", emoji: '🚀', rtl: 'مرحبا' };
    const body = callbackBody({
      commandId,
      result: { resultCode: 'SUCCESSFUL', resultDetail: detail },
    });
    expect((await push(body)).statusCode).toBe(200);
    const command = (await getCommand(commandId)).json();
    expect(command.commandId).toBe(commandId);
    expect(command.resultDetail).toEqual(detail);
  });

  it.each([
    ['a resultCode in the wrong case', { result: { resultCode: 'sent' } }, 'result.resultCode'],
    ['an unknown resultCode', { result: { resultCode: 'DONE' } }, 'result.resultCode'],
    ['a missing result', { result: undefined }, 'result'],
    ['an empty deviceId', { deviceId: '' }, 'deviceId'],
    ['a commandId over 128 characters', { commandId: 'x'.repeat(129) }, 'commandId'],
    ['a commandId with a control character', { commandId: 'a\u0007b' }, 'commandId'],
    ['a numeric deviceId', { deviceId: 42 }, 'deviceId'],
  ])('refuses %s with 400 and errors[]', async (_name, override, field) => {
    const body = { ...callbackBody(), ...override };
    const response = await push(body);
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    const problem = response.json();
    expect(problem).toMatchObject({ type: 'about:blank', title: 'Bad Request', status: 400 });
    expect(problem.errors.map((e: { field: string }) => e.field)).toContain(field);
    if (typeof body.commandId === 'string') {
      expect((await getCommand(body.commandId)).statusCode).not.toBe(200);
    }
  });

  it('accepts ids of exactly 128 characters', async () => {
    const body = callbackBody({ commandId: 'c'.repeat(128), deviceId: 'd'.repeat(128) });
    expect((await push(body)).statusCode).toBe(200);
  });

  it('answers malformed JSON with 400 and a non-JSON body with 415, as problem details', async () => {
    const malformed = await t.app.inject({
      method: 'POST',
      url: '/callbacks/command-status',
      headers: { 'content-type': 'application/json' },
      payload: '{"deviceId": ',
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.headers['content-type']).toContain('application/problem+json');

    for (const contentType of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/xml',
    ]) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/callbacks/command-status',
        headers: { 'content-type': contentType },
        payload: 'deviceId=x',
      });
      expect(response.statusCode).toBe(415);
      expect(response.json()).toMatchObject({ status: 415, title: 'Unsupported Media Type' });
    }
  });

  it('answers a body over BODY_LIMIT_BYTES with 413', async () => {
    const body = callbackBody({ result: { resultCode: 'SENT', resultDetail: 'x'.repeat(70_000) } });
    const response = await push(body);
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ status: 413 });
    expect((await getCommand(body.commandId)).statusCode).toBe(404);
  });
});
