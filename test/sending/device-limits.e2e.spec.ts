import { setTimeout as sleep } from 'node:timers/promises';
import { eventually, eventuallyDefined } from '../support/eventually.js';
import { type PlatformUnderTest, dispatchBody, usePlatformApp } from '../support/platform.js';

interface DispatchJson {
  dispatchId: string;
  deviceId: string;
  state: string;
  commandId: string | null;
  createdAt: string;
  paras: Record<string, unknown>;
  attempts: { outcome: string }[];
}

/** Queueing, reading and finishing dispatches on the service under test and its emulator. */
function dispatchHelpers(platform: PlatformUnderTest) {
  const queued = async (body: object): Promise<DispatchJson> => {
    const response = await platform.app.inject({
      method: 'POST',
      url: '/dispatches',
      payload: body,
    });
    expect(response.statusCode).toBe(202);
    return response.json<DispatchJson>();
  };
  const get = async (dispatchId: string) =>
    (
      await platform.app.inject({ method: 'GET', url: `/dispatches/${dispatchId}` })
    ).json<DispatchJson>();
  const createdFor = (deviceId: string) =>
    [...platform.emulator.commands.values()].filter((created) => created.deviceId === deviceId);
  /** The device finishes the command on the platform, and the service learns it. */
  const finish = async (commandId: string) => {
    await platform.emulator.advance(commandId, 'SUCCESSFUL', { code: 0 });
    for (;;) {
      const response = await platform.app.inject({
        method: 'POST',
        url: `/commands/${commandId}/reconcile`,
      });
      // 503: the embedded database's one connection is busy; asked again.
      if (response.statusCode !== 503) {
        expect(response.statusCode).toBe(200);
        return;
      }
      await sleep(100);
    }
  };
  return { queued, get, createdFor, finish };
}

// Twenty open commands a device from the queue: the platform's cache limit, not this setting, is
// what holds a device's 21st command back below.
describe('a device at the platform limits (iotda)', () => {
  const platform = usePlatformApp('iotda', { env: { DISPATCH_DEVICE_CONCURRENCY: '20' } });

  const { queued, get, createdFor, finish } = dispatchHelpers(platform);
  const ofDevice = async (deviceId: string) =>
    (
      await platform.app.inject({
        method: 'GET',
        url: `/dispatches?deviceId=${deviceId}&limit=100`,
      })
    ).json<{ items: DispatchJson[] }>().items;

  it('gives a device with 20 PENDING commands no 21st until one of them completes', async () => {
    const deviceId = `cached-${Math.random().toString(36).slice(2)}`;
    const delayed = { deviceId, sendStrategy: 'delay' };
    // Five PENDING commands sent by the immediate path count as much as the queue's own.
    for (let n = 0; n < 5; n++) {
      const response = await platform.app.inject({
        method: 'POST',
        url: '/commands/dispatch',
        payload: dispatchBody({ ...delayed, paras: { direct: n } }),
      });
      expect(response.statusCode).toBe(201);
      expect(response.json()).toMatchObject({ status: 'PENDING' });
    }
    const dispatches: DispatchJson[] = [];
    for (let n = 0; n < 16; n++) {
      dispatches.push(await queued(dispatchBody({ ...delayed, paras: { n } })));
    }
    await eventually(
      async () =>
        (await ofDevice(deviceId)).filter((dispatch) => dispatch.state === 'sent').length === 15,
      20_000,
      () => 'fifteen dispatches sent',
    );
    // Room for more polls: the 16th stays queued, never tried (the platform would refuse it).
    await sleep(1500);
    const last = await get(dispatches[15].dispatchId);
    expect(last.state).toBe('queued');
    expect(last.attempts).toEqual([]);
    expect(createdFor(deviceId)).toHaveLength(20);
    expect(createdFor(deviceId).every((created) => created.status === 'PENDING')).toBe(true);

    await finish((await get(dispatches[0].dispatchId)).commandId ?? '');
    const sent = await eventuallyDefined('the 16th sent', async () => {
      const current = await get(dispatches[15].dispatchId);
      return current.state === 'sent' ? current : undefined;
    });
    expect(sent.attempts.map((attempt) => attempt.outcome)).toEqual(['sent']);
    expect(createdFor(deviceId)).toHaveLength(21);
    expect(createdFor(deviceId).filter((created) => created.status === 'PENDING')).toHaveLength(20);
  }, 60_000);
});

// One open command a device (the default): the blocking command below holds the racers queued
// whenever the sender polls, so that each is superseded or stays, none is sent meanwhile.
describe('concurrent dispatches with one replaceKey (iotda)', () => {
  const platform = usePlatformApp('iotda');

  const { queued, get, createdFor, finish } = dispatchHelpers(platform);

  it('leaves one queued dispatch of concurrent ones with the same replaceKey, the latest, sent once', async () => {
    const deviceId = `raced-${Math.random().toString(36).slice(2)}`;
    // An open command that the device has not finished: with one open command a device, the rest
    // wait behind it, queued.
    const blocking = await queued(dispatchBody({ deviceId, sendStrategy: 'delay' }));
    await eventually(
      async () => (await get(blocking.dispatchId)).state === 'sent',
      20_000,
      () => 'the blocking dispatch sent',
    );
    const racers = await Promise.all(
      Array.from({ length: 12 }, (_, n) =>
        queued(dispatchBody({ deviceId, replaceKey: 'period', paras: { v: n } })),
      ),
    );
    const states = await Promise.all(racers.map((racer) => get(racer.dispatchId)));
    const open = states.filter((dispatch) => dispatch.state === 'queued');
    expect(open).toHaveLength(1);
    expect(states.filter((dispatch) => dispatch.state === 'superseded')).toHaveLength(11);
    const survivor = open[0];
    for (const racer of states) {
      expect(Date.parse(survivor.createdAt)).toBeGreaterThanOrEqual(Date.parse(racer.createdAt));
    }

    await finish((await get(blocking.dispatchId)).commandId ?? '');
    await eventually(
      async () => (await get(survivor.dispatchId)).state === 'sent',
      20_000,
      () => 'the latest sent',
    );
    await sleep(1000);
    expect(createdFor(deviceId).map((created) => created.paras)).toEqual([
      { value: 5, unit: 's' },
      survivor.paras,
    ]);
  }, 60_000);
});
