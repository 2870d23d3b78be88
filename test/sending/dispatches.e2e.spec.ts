import { Reconciler } from '../../src/platform/reconciler.js';
import { eventuallyDefined } from '../support/eventually.js';
import { type PlatformKind, dispatchBody, usePlatformApp } from '../support/platform.js';

interface DispatchJson {
  dispatchId: string;
  deviceId: string;
  state: string;
  mode: string;
  replaceKey: string | null;
  commandId: string | null;
  nextAttemptAt: string;
  attempts: { at: string; outcome: string; platformError?: { code: string } }[];
}

interface CommandJson {
  commandId: string;
  status: string;
  resultDetail: unknown;
  history: { source: string; status: string }[];
}

describe.each<PlatformKind>(['iotda', 'oceanconnect'])('/dispatches on %s', (kind) => {
  const platform = usePlatformApp(kind, {
    env: { DISPATCH_RETRY_BASE_SECONDS: '1', DISPATCH_RETRY_MAX_SECONDS: '1' },
  });

  const post = (body: object, headers: Record<string, string> = {}) =>
    platform.app.inject({ method: 'POST', url: '/dispatches', payload: body, headers });
  const get = async (dispatchId: string) =>
    (
      await platform.app.inject({ method: 'GET', url: `/dispatches/${dispatchId}` })
    ).json<DispatchJson>();
  const queued = async (body: object) => {
    const response = await post(body);
    expect(response.statusCode).toBe(202);
    return response.json<DispatchJson>();
  };
  const until = (dispatchId: string, state: string) =>
    eventuallyDefined(`dispatch ${dispatchId} ${state}`, async () => {
      const current = await get(dispatchId);
      return current.state === state ? current : undefined;
    });
  const command = async (commandId: string) =>
    (
      await platform.app.inject({ method: 'GET', url: `/commands/${commandId}` })
    ).json<CommandJson>();
  /** The device finishes the command on the platform, and the service learns it. */
  const finish = async (commandId: string) => {
    await platform.emulator.advance(commandId, 'SUCCESSFUL', { code: 200 });
    const response = await platform.app.inject({
      method: 'POST',
      url: `/commands/${commandId}/reconcile`,
    });
    expect(response.statusCode).toBe(200);
  };
  const createdFor = (deviceId: string) =>
    [...platform.emulator.commands.values()]
      .filter((created) => created.deviceId === deviceId)
      .sort((a, b) => a.sequence - b.sequence);

  it('answers 202 with the dispatch queued, then sends it and tracks its command', async () => {
    const body = dispatchBody();
    const dispatch = await queued(body);
    expect(dispatch).toMatchObject({
      deviceId: body.deviceId,
      mode: 'async',
      state: 'queued',
      replaceKey: null,
      campaignId: null,
      commandId: null,
      attempts: [],
    });
    const sent = await until(dispatch.dispatchId, 'sent');
    expect(sent.attempts.map((attempt) => attempt.outcome)).toEqual(['sent']);
    const tracked = await command(sent.commandId ?? '');
    expect(tracked.history[0]).toMatchObject({ source: 'dispatch' });
    expect(createdFor(body.deviceId as string)).toHaveLength(1);
  });

  it.each([
    ['deviceId missing', { deviceId: undefined }, 'deviceId'],
    ['mode unknown', { mode: 'later' }, 'mode'],
    ['replaceKey too long', { replaceKey: 'k'.repeat(129) }, 'replaceKey'],
    ['notBefore not a time', { notBefore: 'tomorrow' }, 'notBefore'],
    [
      'sendBy before notBefore',
      { notBefore: '2030-01-02T00:00:00Z', sendBy: '2030-01-01T00:00:00Z' },
      'sendBy',
    ],
  ])('answers 400 naming the field for %s, and stores nothing', async (_name, change, field) => {
    const body = dispatchBody(change);
    const response = await post(body);
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json().errors[0].field).toBe(field);
    if (typeof body.deviceId === 'string') {
      const list = await platform.app.inject({
        method: 'GET',
        url: `/dispatches?deviceId=${encodeURIComponent(body.deviceId)}`,
      });
      expect(list.json().items).toEqual([]);
    }
  });

  if (kind === 'oceanconnect') {
    it('refuses mode sync (IoTDA only) with 400 naming mode', async () => {
      const response = await post(dispatchBody({ mode: 'sync' }));
      expect(response.statusCode).toBe(400);
      expect(response.json().errors[0].field).toBe('mode');
    });
  }

  it('retries an offline device with backoff until it comes online', async () => {
    const body = dispatchBody();
    platform.emulator.offline.add(body.deviceId as string);
    const dispatch = await queued(body);
    const retried = await eventuallyDefined('two offline attempts', async () => {
      const current = await get(dispatch.dispatchId);
      return current.attempts.length >= 2 ? current : undefined;
    });
    expect(retried.state).not.toBe('sent');
    expect(retried.attempts.slice(0, 2).map((attempt) => attempt.outcome)).toEqual([
      'offline',
      'offline',
    ]);
    expect(retried.attempts[0].platformError?.code).toBe(
      kind === 'iotda' ? 'IOTDA.014016' : '100428',
    );
    // Full jitter within DISPATCH_RETRY_MAX_SECONDS (1 s) of the attempt.
    const gap = Date.parse(retried.attempts[1].at) - Date.parse(retried.attempts[0].at);
    expect(gap).toBeLessThan(5000);
    platform.emulator.offline.delete(body.deviceId as string);
    const sent = await until(dispatch.dispatchId, 'sent');
    expect(sent.attempts.at(-1)?.outcome).toBe('sent');
    expect(createdFor(body.deviceId as string)).toHaveLength(1);
  });

  it("sends a device's dispatches one at a time, in creation order", async () => {
    const deviceId = `ordered-${kind}-${Math.random().toString(36).slice(2)}`;
    const dispatches: DispatchJson[] = [];
    for (let n = 0; n < 3; n++) {
      dispatches.push(await queued(dispatchBody({ deviceId, paras: { n } })));
    }
    const first = await until(dispatches[0].dispatchId, 'sent');
    // The first command is open: the next waits for it.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await get(dispatches[1].dispatchId)).state).toBe('queued');
    expect(createdFor(deviceId)).toHaveLength(1);
    await finish(first.commandId ?? '');
    const second = await until(dispatches[1].dispatchId, 'sent');
    expect((await get(dispatches[2].dispatchId)).state).toBe('queued');
    await finish(second.commandId ?? '');
    await until(dispatches[2].dispatchId, 'sent');
    expect(createdFor(deviceId).map((created) => created.paras)).toEqual([
      { n: 0 },
      { n: 1 },
      { n: 2 },
    ]);
  });

  it("does not hold a device's dispatches behind one waiting for its notBefore or its campaign's release", async () => {
    const deviceId = `waiting-${kind}-${Math.random().toString(36).slice(2)}`;
    const later = { notBefore: '2099-01-01T00:00:00Z', sendBy: '2099-01-02T00:00:00Z' };
    // A campaign that starts in 2099: its dispatch for the device is queued, not released.
    const campaign = await platform.app.inject({
      method: 'POST',
      url: '/campaigns',
      payload: {
        name: 'next century',
        command: { serviceId: 'WaterMeter', method: 'SET_READ_PERIOD', paras: { value: 7 } },
        devices: [deviceId],
        startAt: later.notBefore,
      },
    });
    expect(campaign.statusCode).toBe(201);
    const notYet = await queued(dispatchBody({ deviceId, paras: { n: 0 }, ...later }));
    const now = await queued(dispatchBody({ deviceId, paras: { n: 1 } }));
    await until(now.dispatchId, 'sent');
    expect((await get(notYet.dispatchId)).state).toBe('queued');
    const held = (
      await platform.app.inject({
        method: 'GET',
        url: `/dispatches?campaignId=${campaign.json<{ campaignId: string }>().campaignId}`,
      })
    ).json<{ items: DispatchJson[] }>().items;
    expect(held.map((dispatch) => dispatch.state)).toEqual(['queued']);
    expect(createdFor(deviceId).map((created) => created.paras)).toEqual([{ n: 1 }]);
  });

  it("keeps a device's later dispatch behind an earlier one waiting for its retry", async () => {
    const deviceId = `backoff-${kind}-${Math.random().toString(36).slice(2)}`;
    platform.emulator.offline.add(deviceId);
    const first = await queued(dispatchBody({ deviceId, paras: { n: 0 } }));
    await eventuallyDefined('an offline attempt', async () => {
      const current = await get(first.dispatchId);
      return current.attempts.length >= 1 ? current : undefined;
    });
    const second = await queued(dispatchBody({ deviceId, paras: { n: 1 } }));
    await eventuallyDefined('two more offline attempts', async () => {
      const current = await get(first.dispatchId);
      return current.attempts.length >= 3 ? current : undefined;
    });
    // Between the first one's retries, the second is never tried.
    expect((await get(second.dispatchId)).attempts).toEqual([]);
    platform.emulator.offline.delete(deviceId);
    const sent = await until(first.dispatchId, 'sent');
    await finish(sent.commandId ?? '');
    await until(second.dispatchId, 'sent');
    expect(createdFor(deviceId).map((created) => created.paras)).toEqual([{ n: 0 }, { n: 1 }]);
  });

  it('supersedes a queued dispatch with a newer one of the same replaceKey', async () => {
    const deviceId = `replace-${kind}-${Math.random().toString(36).slice(2)}`;
    const blocking = await queued(dispatchBody({ deviceId }));
    const sentFirst = await until(blocking.dispatchId, 'sent');
    const older = await queued(dispatchBody({ deviceId, replaceKey: 'period', paras: { v: 1 } }));
    const other = await queued(dispatchBody({ deviceId, replaceKey: 'other', paras: { v: 9 } }));
    const newer = await queued(dispatchBody({ deviceId, replaceKey: 'period', paras: { v: 2 } }));
    expect((await get(older.dispatchId)).state).toBe('superseded');
    expect((await get(other.dispatchId)).state).toBe('queued');
    await finish(sentFirst.commandId ?? '');
    const otherSent = await until(other.dispatchId, 'sent');
    await finish(otherSent.commandId ?? '');
    await until(newer.dispatchId, 'sent');
    expect(createdFor(deviceId).map((created) => created.paras)).toEqual([
      { value: 5, unit: 's' },
      { v: 9 },
      { v: 2 },
    ]);
  });

  it('settles a lost attempt by reconciliation before anything is sent again', async () => {
    const body = dispatchBody();
    platform.emulator.failNext('create', { kind: 'hang', afterEffect: true });
    const dispatch = await queued(body);
    const lost = await eventuallyDefined('a lost attempt', async () => {
      const current = await get(dispatch.dispatchId);
      return current.attempts.some((attempt) => attempt.outcome === 'lost') ? current : undefined;
    });
    expect(lost.state).toBe('queued');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(createdFor(body.deviceId as string)).toHaveLength(1);
    await platform.app.get(Reconciler).pass();
    const sent = await until(dispatch.dispatchId, 'sent');
    const [created] = createdFor(body.deviceId as string);
    expect(sent.commandId).toBe(created.commandId);
    expect(createdFor(body.deviceId as string)).toHaveLength(1);
  });

  it('retries a throttled attempt (HTTP 429)', async () => {
    platform.emulator.failNext('create', {
      kind: 'refuse',
      httpStatus: 429,
      code: 'APIGW.0308',
      message: 'The throttling threshold has been reached',
    });
    const dispatch = await queued(dispatchBody());
    const sent = await until(dispatch.dispatchId, 'sent');
    expect(sent.attempts.map((attempt) => attempt.outcome)).toEqual(['throttled', 'sent']);
  });

  it('fails a dispatch the platform refuses for good, at once', async () => {
    platform.emulator.failNext('create', {
      kind: 'refuse',
      httpStatus: 400,
      code: kind === 'iotda' ? 'IOTDA.000006' : '100022',
      message: 'Invalid input',
    });
    const dispatch = await queued(dispatchBody());
    const failed = await until(dispatch.dispatchId, 'failed');
    expect(failed.attempts.map((attempt) => attempt.outcome)).toEqual(['refused']);
  });

  it('cancels a queued dispatch (200), and answers 409 once it is closed, 404 when unknown', async () => {
    const dispatch = await queued(
      dispatchBody({ notBefore: '2099-01-01T00:00:00Z', sendBy: '2099-01-02T00:00:00Z' }),
    );
    const cancel = (id: string) =>
      platform.app.inject({ method: 'POST', url: `/dispatches/${id}/cancel` });
    const canceled = await cancel(dispatch.dispatchId);
    expect(canceled.statusCode).toBe(200);
    expect(canceled.json()).toMatchObject({ state: 'canceled' });
    expect((await cancel(dispatch.dispatchId)).statusCode).toBe(409);
    expect((await cancel('no-such-dispatch')).statusCode).toBe(404);
    expect(
      (await platform.app.inject({ method: 'GET', url: '/dispatches/no-such-dispatch' }))
        .statusCode,
    ).toBe(404);
  });

  it('gives the same dispatch for the same Idempotency-Key and body, 422 for another body', async () => {
    const body = dispatchBody({
      notBefore: '2099-01-01T00:00:00Z',
      sendBy: '2099-01-02T00:00:00Z',
    });
    const key = { 'idempotency-key': `queue-${kind}-${Math.random()}` };
    const first = await post(body, key);
    const again = await post(body, key);
    expect(again.statusCode).toBe(202);
    expect(again.json().dispatchId).toBe(first.json().dispatchId);
    const other = await post({ ...body, paras: { value: 6 } }, key);
    expect(other.statusCode).toBe(422);
  });

  it('shows dispatches by state, attempts by outcome, queue depth and oldest age in /metrics', async () => {
    const sent = await queued(dispatchBody());
    await until(sent.dispatchId, 'sent');
    await queued(
      dispatchBody({ notBefore: '2099-01-01T00:00:00Z', sendBy: '2099-01-02T00:00:00Z' }),
    );
    // Past the second during which a scrape reuses the counts it read.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const metrics = (await platform.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^dispatches\{state="queued"\} [1-9]/m);
    expect(metrics).toMatch(/^dispatches\{state="sent"\} [1-9]/m);
    expect(metrics).toMatch(/^dispatch_attempts_total\{outcome="sent"\} [1-9]/m);
    expect(metrics).toMatch(/^dispatch_attempts_total\{outcome="offline"\} \d/m);
    expect(metrics).toMatch(/^dispatch_queue_depth [1-9]/m);
    expect(metrics).toMatch(/^dispatch_oldest_queued_age_seconds \d/m);
  });

  it('lists dispatches newest first in cursor pages, filtered by device and state', async () => {
    const deviceId = `listed-${kind}-${Math.random().toString(36).slice(2)}`;
    const later = { notBefore: '2099-01-01T00:00:00Z', sendBy: '2099-01-02T00:00:00Z' };
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) {
      ids.push((await queued(dispatchBody({ deviceId, paras: { n }, ...later }))).dispatchId);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: DispatchJson[]; nextCursor: string | null } = (
        await platform.app.inject({
          method: 'GET',
          url: `/dispatches?deviceId=${deviceId}&state=queued,sending&limit=2${cursor === null ? '' : `&cursor=${cursor}`}`,
        })
      ).json();
      seen.push(...page.items.map((item) => item.dispatchId));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual([...ids].reverse());
    const bad = await platform.app.inject({ method: 'GET', url: '/dispatches?state=lost' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('state');
  });
});
