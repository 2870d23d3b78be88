import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../support/eventually.js';
import { dispatchBody, usePlatformApp } from '../support/platform.js';

// A service of its own: the gauges count every dispatch in its database.
describe('the queue in /metrics', () => {
  const platform = usePlatformApp('iotda', {
    env: { DISPATCH_RETRY_BASE_SECONDS: '1', DISPATCH_RETRY_MAX_SECONDS: '1' },
  });

  /** The value of one series; a scrape reuses the counts it read for a second, so waits past that. */
  const scrape = async () => {
    await sleep(1100);
    const body = (await platform.app.inject({ method: 'GET', url: '/metrics' })).body;
    return (series: string): number => {
      const escaped = series.replace(/[{}"]/g, (c) => `\\${c}`);
      const match = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(body);
      if (match === null) {
        throw new Error(`no ${series} in /metrics`);
      }
      return Number(match[1]);
    };
  };
  const post = async (body: object) => {
    const response = await platform.app.inject({
      method: 'POST',
      url: '/dispatches',
      payload: body,
    });
    expect(response.statusCode).toBe(202);
    return response.json<{ dispatchId: string; attempts: unknown[] }>();
  };

  it('counts by state and depth, and ages only dispatches in line: not one waiting for its notBefore or release', async () => {
    await post(dispatchBody({ notBefore: '2099-01-01T00:00:00Z', sendBy: '2099-01-02T00:00:00Z' }));
    const campaign = await platform.app.inject({
      method: 'POST',
      url: '/campaigns',
      payload: {
        name: 'next century',
        command: { serviceId: 'WaterMeter', method: 'SET_READ_PERIOD', paras: { value: 7 } },
        devices: ['metered-1'],
        startAt: '2099-01-01T00:00:00Z',
      },
    });
    expect(campaign.statusCode).toBe(201);
    await sleep(1500);
    let metric = await scrape();
    expect(metric('dispatches{state="queued"}')).toBe(2);
    expect(metric('dispatches{state="sent"}')).toBe(0);
    expect(metric('dispatch_queue_depth')).toBe(2);
    expect(metric('dispatch_oldest_queued_age_seconds')).toBe(0);

    // An offline device's dispatch waits in line, retried: its age grows.
    const body = dispatchBody();
    platform.emulator.offline.add(body.deviceId as string);
    const late = await post(body);
    await eventually(
      async () =>
        (await platform.app.inject({ method: 'GET', url: `/dispatches/${late.dispatchId}` })).json<{
          attempts: unknown[];
        }>().attempts.length >= 2,
      20_000,
      () => 'two offline attempts',
    );
    metric = await scrape();
    expect(metric('dispatches{state="queued"}')).toBe(3);
    expect(metric('dispatch_oldest_queued_age_seconds')).toBeGreaterThanOrEqual(1);
    expect(metric('dispatch_attempts_total{outcome="offline"}')).toBeGreaterThanOrEqual(2);
    expect(metric('dispatch_attempts_total{outcome="sent"}')).toBe(0);

    platform.emulator.offline.delete(body.deviceId as string);
    await eventually(
      async () =>
        (await platform.app.inject({ method: 'GET', url: `/dispatches/${late.dispatchId}` })).json<{
          state: string;
        }>().state === 'sent',
      20_000,
      () => 'sent once online',
    );
    metric = await scrape();
    expect(metric('dispatches{state="queued"}')).toBe(2);
    expect(metric('dispatches{state="sent"}')).toBe(1);
    expect(metric('dispatch_queue_depth')).toBe(2);
    expect(metric('dispatch_oldest_queued_age_seconds')).toBe(0);
    expect(metric('dispatch_attempts_total{outcome="sent"}')).toBe(1);
  }, 60_000);
});
