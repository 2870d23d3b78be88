import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { type EmulatedStatus } from '../../tools/platform-emulator.js';
import { eventuallyDefined } from '../support/eventually.js';
import { usePlatformApp } from '../support/platform.js';

interface CampaignJson {
  campaignId: string;
  name: string;
  state: string;
  ratePerMinute: number;
  devices: number;
  dispatches: Record<string, number>;
  commands: Record<string, number>;
  abortReason: string | null;
}

interface DispatchJson {
  dispatchId: string;
  deviceId: string;
  state: string;
  commandId: string | null;
  campaignId: string | null;
}

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

describe('/campaigns on iotda', () => {
  const platform = usePlatformApp('iotda');

  const devicesOf = (n: number) => {
    const run = Math.random().toString(36).slice(2, 8);
    return Array.from({ length: n }, (_, i) => `campaign-${run}-${String(i).padStart(3, '0')}`);
  };
  const body = (devices: string[], overrides: Record<string, unknown> = {}) => ({
    name: 'reporting period',
    command: { serviceId: 'WaterMeter', method: 'SET_READ_PERIOD', paras: { value: 5 } },
    devices,
    ratePerMinute: 6000,
    ...overrides,
  });
  const create = async (payload: object): Promise<CampaignJson> => {
    const response = await platform.app.inject({ method: 'POST', url: '/campaigns', payload });
    expect(response.statusCode).toBe(201);
    return response.json<CampaignJson>();
  };
  const get = async (campaignId: string) =>
    (
      await platform.app.inject({ method: 'GET', url: `/campaigns/${campaignId}` })
    ).json<CampaignJson>();
  const act = (campaignId: string, action: string) =>
    platform.app.inject({ method: 'POST', url: `/campaigns/${campaignId}/${action}` });
  const until = (campaignId: string, what: string, holds: (c: CampaignJson) => boolean) =>
    eventuallyDefined(what, async () => {
      const current = await get(campaignId);
      return holds(current) ? current : undefined;
    });
  const dispatches = async (campaignId: string): Promise<DispatchJson[]> =>
    (
      await platform.app.inject({
        method: 'GET',
        url: `/dispatches?campaignId=${campaignId}&limit=500`,
      })
    ).json<{ items: DispatchJson[] }>().items;
  /** The device ends the command on the platform, and the service learns it. */
  const finish = async (commandId: string, status: EmulatedStatus) => {
    await platform.emulator.advance(commandId, status, { code: status === 'SUCCESSFUL' ? 0 : 1 });
    // 503 says to ask again later: the embedded database's one connection is busy.
    for (;;) {
      const response = await platform.app.inject({
        method: 'POST',
        url: `/commands/${commandId}/reconcile`,
      });
      if (response.statusCode !== 503) {
        expect(response.statusCode).toBe(200);
        return;
      }
      await sleep(100);
    }
  };
  const sentFor = async (campaignId: string, deviceId: string) =>
    eventuallyDefined(`${deviceId} sent`, async () => {
      const found = (await dispatches(campaignId)).find(
        (dispatch) => dispatch.deviceId === deviceId && dispatch.state === 'sent',
      );
      return found?.commandId ?? undefined;
    });
  const createdOnPlatform = (devices: string[]) =>
    [...platform.emulator.commands.values()].filter((command) => devices.includes(command.deviceId))
      .length;

  it.each([
    ['devices empty', { devices: [] }, 'devices'],
    ['a device repeated', { devices: ['a', 'b', 'a'] }, 'devices.2'],
    ['ratePerMinute too high', { ratePerMinute: 60_001 }, 'ratePerMinute'],
    ['command.method missing', { command: { serviceId: 'S', paras: {} } }, 'command.method'],
    [
      'canary percent over 100',
      { canary: { devices: 1, minSuccessPercent: 101 } },
      'canary.minSuccessPercent',
    ],
    [
      'canary larger than the fleet',
      { canary: { devices: 5, minSuccessPercent: 1 } },
      'canary.devices',
    ],
    ['endAt not a time', { endAt: 'soon' }, 'endAt'],
  ])('answers 400 naming the field for %s, and stores nothing', async (_name, change, field) => {
    const response = await platform.app.inject({
      method: 'POST',
      url: '/campaigns',
      payload: body(['a', 'b'], change),
    });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json().errors[0].field).toBe(field);
    const list = await platform.app.inject({ method: 'GET', url: '/campaigns' });
    expect(list.json().items.filter((c: CampaignJson) => c.devices === 2)).toEqual([]);
  });

  it('answers 404 for an unknown campaign and its actions', async () => {
    expect((await platform.app.inject({ method: 'GET', url: '/campaigns/nope' })).statusCode).toBe(
      404,
    );
    expect((await act('nope', 'pause')).statusCode).toBe(404);
    expect((await act('nope', 'retry-failed')).statusCode).toBe(404);
  });

  it('accepts a body over BODY_LIMIT_BYTES on this route only, one dispatch per device', async () => {
    // 2,000 ids of 100 characters: about 200 KB, over the 64 KB other routes accept.
    const devices = devicesOf(2000).map((id) => id.padEnd(100, 'x'));
    const campaign = await create(
      body(devices, { startAt: new Date(Date.now() + 3600_000).toISOString() }),
    );
    expect(campaign).toMatchObject({ state: 'scheduled', devices: 2000 });
    expect(campaign.dispatches.queued).toBe(2000);
    const tooLarge = await platform.app.inject({
      method: 'POST',
      url: '/dispatches',
      payload: { deviceId: 'd', serviceId: 's', method: 'm', paras: { pad: 'x'.repeat(70_000) } },
    });
    expect(tooLarge.statusCode).toBe(413);
    expect((await act(campaign.campaignId, 'cancel')).statusCode).toBe(200);
    expect((await get(campaign.campaignId)).dispatches.canceled).toBe(2000);
  });

  it('creates a campaign of 100,000 devices in a body near 8 MB', async () => {
    // Ids of 72 characters: 100,000 of them quoted and comma-separated are about 7.5 MB. Inserting
    // and canceling the 100,000 dispatches take longer than the pool's 3 s statement bound on a
    // busy machine.
    const devices = devicesOf(100_000).map((id) => id.padEnd(72, 'x'));
    const campaign = await create(
      body(devices, { startAt: new Date(Date.now() + 3600_000).toISOString() }),
    );
    expect(campaign).toMatchObject({ state: 'scheduled', devices: 100_000 });
    expect(campaign.dispatches.queued).toBe(100_000);
    expect((await act(campaign.campaignId, 'cancel')).statusCode).toBe(200);
    expect((await get(campaign.campaignId)).dispatches.canceled).toBe(100_000);
  }, 300_000);

  it('gives back the same campaign for the same Idempotency-Key', async () => {
    const payload = body(devicesOf(2), { startAt: new Date(Date.now() + 3600_000).toISOString() });
    const headers = { 'idempotency-key': `key-${Math.random()}` };
    const first = await platform.app.inject({
      method: 'POST',
      url: '/campaigns',
      payload,
      headers,
    });
    const again = await platform.app.inject({
      method: 'POST',
      url: '/campaigns',
      payload,
      headers,
    });
    expect(again.json().campaignId).toBe(first.json().campaignId);
    const other = await platform.app.inject({
      method: 'POST',
      url: '/campaigns',
      payload: { ...payload, name: 'another' },
      headers,
    });
    expect(other.statusCode).toBe(422);
  });

  it('releases dispatches at ratePerMinute, within 10 %', async () => {
    // A rate the embedded database's one connection keeps up with while it also sends them.
    const devices = devicesOf(30);
    const campaign = await create(body(devices, { ratePerMinute: 300 }));
    const rows = await eventuallyDefined('all released', async () => {
      const released: { released_at: Date | null }[] = await platform.app
        .get(DataSource)
        .query(`SELECT released_at FROM dispatches WHERE campaign_id = $1 ORDER BY released_at`, [
          campaign.campaignId,
        ]);
      return released.every((row) => row.released_at !== null)
        ? (released as { released_at: Date }[])
        : undefined;
    });
    // The first device goes at once, each next one 60,000 / ratePerMinute ms later.
    const span = rows[29].released_at.getTime() - rows[0].released_at.getTime();
    const expected = (29 * 60_000) / 300;
    expect(Math.abs(span - expected)).toBeLessThanOrEqual(expected * 0.1);
    // Paced, not bunched: no second holds more than its share and a token's slack.
    const perSecond = new Map<number, number>();
    for (const row of rows) {
      const second = Math.floor((row.released_at.getTime() - rows[0].released_at.getTime()) / 1000);
      perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    }
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(2 * (300 / 60) + 1);
  });

  it('aborts when the canary does not succeed enough, releasing no other device', async () => {
    const devices = devicesOf(10);
    const campaign = await create(
      body(devices, { canary: { devices: 3, minSuccessPercent: 100 } }),
    );
    const canary = await Promise.all(
      devices.slice(0, 3).map((d) => sentFor(campaign.campaignId, d)),
    );
    await finish(canary[0], 'SUCCESSFUL');
    await finish(canary[1], 'SUCCESSFUL');
    await finish(canary[2], 'FAILED');
    const aborted = await until(campaign.campaignId, 'aborted', (c) => c.state === 'aborted');
    expect(aborted.abortReason).toContain('canary');
    expect(aborted.dispatches).toMatchObject({ sent: 3, canceled: 7, queued: 0 });
    expect(aborted.commands).toMatchObject({ SUCCESSFUL: 2, FAILED: 1 });
    expect(createdOnPlatform(devices)).toBe(3);
  });

  it('releases the rest once the canary succeeds, and completes', async () => {
    const devices = devicesOf(6);
    const campaign = await create(
      body(devices, { canary: { devices: 2, minSuccessPercent: 100 } }),
    );
    for (const deviceId of devices.slice(0, 2)) {
      await finish(await sentFor(campaign.campaignId, deviceId), 'SUCCESSFUL');
    }
    for (const deviceId of devices.slice(2)) {
      await finish(await sentFor(campaign.campaignId, deviceId), 'SUCCESSFUL');
    }
    const completed = await until(campaign.campaignId, 'completed', (c) => c.state === 'completed');
    expect(completed.commands.SUCCESSFUL).toBe(6);
    const listed = await platform.app.inject({
      method: 'GET',
      url: `/commands?campaignId=${campaign.campaignId}`,
    });
    expect(listed.statusCode).toBe(200);
    expect(
      listed
        .json()
        .items.map((c: { deviceId: string }) => c.deviceId)
        .sort(),
    ).toEqual([...devices].sort());
    const analytics = await platform.app.inject({
      method: 'GET',
      url: `/analytics/commands?campaignId=${campaign.campaignId}`,
    });
    expect(analytics.json()).toMatchObject({ commands: 6, successPercent: 100 });
    expect(analytics.json().final.SUCCESSFUL).toBe(6);
  });

  it('aborts past the failure threshold and cancels its queued dispatches', async () => {
    const devices = devicesOf(20);
    const campaign = await create(
      body(devices, { ratePerMinute: 60, abort: { failurePercent: 50, minResults: 2 } }),
    );
    await finish(await sentFor(campaign.campaignId, devices[0]), 'FAILED');
    await finish(await sentFor(campaign.campaignId, devices[1]), 'FAILED');
    const aborted = await until(campaign.campaignId, 'aborted', (c) => c.state === 'aborted');
    expect(aborted.abortReason).toContain('not SUCCESSFUL');
    expect(aborted.dispatches.queued).toBe(0);
    expect(aborted.dispatches.canceled).toBeGreaterThanOrEqual(15);
    expect(sum(aborted.dispatches)).toBe(20);
    const platformCount = createdOnPlatform(devices);
    await sleep(1500);
    expect(createdOnPlatform(devices)).toBe(platformCount);
  });

  it('pauses (nothing more is released) and resumes', async () => {
    const devices = devicesOf(30);
    const campaign = await create(body(devices, { ratePerMinute: 60 }));
    await until(campaign.campaignId, 'two sent', (c) => c.dispatches.sent >= 2);
    const paused = await act(campaign.campaignId, 'pause');
    expect(paused.statusCode).toBe(200);
    expect(paused.json().state).toBe('paused');
    expect((await act(campaign.campaignId, 'pause')).statusCode).toBe(409);
    // A dispatch already sending finishes its platform call; nothing else goes.
    const settled = await until(
      campaign.campaignId,
      'none sending',
      (c) => c.dispatches.sending === 0,
    );
    const before = createdOnPlatform(devices);
    expect(before).toBe(settled.dispatches.sent);
    await sleep(2000);
    expect(createdOnPlatform(devices)).toBe(before);
    expect((await get(campaign.campaignId)).dispatches.sent).toBe(before);
    expect(before).toBeLessThan(30);
    const resumed = await act(campaign.campaignId, 'resume');
    expect(resumed.json().state).toBe('running');
    await until(campaign.campaignId, 'more sent', (c) => c.dispatches.sent > before);
    expect((await act(campaign.campaignId, 'cancel')).statusCode).toBe(200);
    expect((await act(campaign.campaignId, 'resume')).statusCode).toBe(409);
  });

  it('releases only between startAt and endAt; what is left expires', async () => {
    const devices = devicesOf(20);
    const startAt = new Date(Date.now() + 1500);
    const campaign = await create(
      body(devices, {
        ratePerMinute: 60,
        startAt: startAt.toISOString(),
        endAt: new Date(startAt.getTime() + 2500).toISOString(),
      }),
    );
    expect(campaign.state).toBe('scheduled');
    await sleep(1000);
    expect(createdOnPlatform(devices)).toBe(0);
    const ended = await until(
      campaign.campaignId,
      'the rest expired',
      (c) => c.dispatches.queued === 0 && c.dispatches.sending === 0,
    );
    expect(ended.dispatches.sent).toBeGreaterThanOrEqual(1);
    expect(ended.dispatches.sent).toBeLessThanOrEqual(5);
    expect(ended.dispatches.expired).toBe(20 - ended.dispatches.sent);
    const released: { released_at: Date }[] = await platform.app
      .get(DataSource)
      .query(
        `SELECT released_at FROM dispatches WHERE campaign_id = $1 AND released_at IS NOT NULL`,
        [campaign.campaignId],
      );
    for (const row of released) {
      expect(row.released_at.getTime()).toBeGreaterThanOrEqual(startAt.getTime());
      expect(row.released_at.getTime()).toBeLessThan(startAt.getTime() + 2500);
    }
  });

  it('retries only the devices whose command failed or timed out', async () => {
    const devices = devicesOf(4);
    const campaign = await create(body(devices));
    const commands = await Promise.all(devices.map((d) => sentFor(campaign.campaignId, d)));
    await finish(commands[0], 'SUCCESSFUL');
    await finish(commands[1], 'FAILED');
    await finish(commands[2], 'TIMEOUT');
    const retried = await act(campaign.campaignId, 'retry-failed');
    expect(retried.statusCode).toBe(200);
    const all = await dispatches(campaign.campaignId);
    expect(all).toHaveLength(6);
    const perDevice = devices.map((d) => all.filter((dispatch) => dispatch.deviceId === d).length);
    expect(perDevice).toEqual([1, 2, 2, 1]);
    await sentFor(campaign.campaignId, devices[1]);
    await eventuallyDefined('retries sent', async () =>
      createdOnPlatform([devices[1], devices[2]]) === 4 ? true : undefined,
    );
    expect(createdOnPlatform([devices[0], devices[3]])).toBe(2);
  });

  it('keeps counts exact while commands change concurrently', async () => {
    const devices = devicesOf(30);
    const campaign = await create(body(devices));
    await until(campaign.campaignId, 'all sent', (c) => c.dispatches.sent === 30);
    const sent = await dispatches(campaign.campaignId);
    let finishing = true;
    const reads: CampaignJson[] = [];
    const reader = (async () => {
      while (finishing) {
        reads.push(await get(campaign.campaignId));
      }
    })();
    await Promise.all(
      sent.map((dispatch, i) =>
        finish(dispatch.commandId ?? '', i % 3 === 0 ? 'FAILED' : 'SUCCESSFUL'),
      ),
    );
    finishing = false;
    await reader;
    for (const read of reads) {
      expect(sum(read.dispatches)).toBe(30);
      expect(sum(read.commands)).toBe(30);
    }
    const done = await until(campaign.campaignId, 'completed', (c) => c.state === 'completed');
    expect(done.commands).toMatchObject({ SUCCESSFUL: 20, FAILED: 10, PENDING: 0, SENT: 0 });
  });

  it('lists campaigns newest first in pages, filtered by state', async () => {
    const first = await create(body(devicesOf(1), { startAt: '2099-01-01T00:00:00Z' }));
    const second = await create(body(devicesOf(1), { startAt: '2099-01-01T00:00:00Z' }));
    const page = await platform.app.inject({
      method: 'GET',
      url: '/campaigns?state=scheduled&limit=1',
    });
    expect(page.json().items[0].campaignId).toBe(second.campaignId);
    const next = await platform.app.inject({
      method: 'GET',
      url: `/campaigns?state=scheduled&limit=1&cursor=${page.json().nextCursor}`,
    });
    expect(next.json().items[0].campaignId).toBe(first.campaignId);
    const bad = await platform.app.inject({ method: 'GET', url: '/campaigns?state=later' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('state');
  });
});
