import { DataSource } from 'typeorm';
import { Reconciler } from '../../src/platform/reconciler.js';
import { type PlatformKind, dispatchBody, usePlatformApp } from '../support/platform.js';

interface CommandJson {
  commandId: string;
  history: { source: string; status: string; outcome: string }[];
}

describe.each<PlatformKind>(['iotda', 'oceanconnect'])('reconciliation order on %s', (kind) => {
  const platform = usePlatformApp(kind, { env: { RECONCILE_RATE: '1000' } });
  const sql = (text: string, params: unknown[] = []) =>
    platform.app.get(DataSource).query(text, params);

  it('looks up the lost dispatches that waited longest since their last lookup first, so newer ones are not starved', async () => {
    // More lost dispatches than one pass looks up (100), none of which the platform has.
    const count = 101;
    const prefix = `starve-${kind}-`;
    await sql(
      `INSERT INTO dispatch_intents (request_hash, device_id, service_id, method, paras, state,
         created_at, updated_at)
       SELECT 'h', $1 || i, 'WaterMeter', 'SET_READ_PERIOD', '{}', 'lost',
         now() - make_interval(secs => ($2 - i) / 1000.0), now()
       FROM generate_series(0, $2 - 1) AS i`,
      [prefix, count],
    );
    const devicesLookedUp = (from: number) =>
      new Set(
        platform.emulator.calls
          .slice(from)
          .filter((call) => call.operation === 'list')
          .map((call) =>
            kind === 'iotda'
              ? decodeURIComponent(call.path.split('/')[5])
              : (new URLSearchParams(call.query).get('deviceId') ?? ''),
          ),
      );
    const reconciler = platform.app.get(Reconciler);
    await reconciler.pass();
    const calls = platform.emulator.calls.length;
    await reconciler.pass();
    const second = devicesLookedUp(calls);
    expect(second.has(`${prefix}${count - 1}`)).toBe(true);
    expect(second.has(`${prefix}0`)).toBe(false);
  }, 60_000);

  it('adds no history entry for a lookup that learns nothing new, and one when it does', async () => {
    const dispatched = await platform.app.inject({
      method: 'POST',
      url: '/commands/dispatch',
      payload: dispatchBody(),
    });
    const { commandId } = dispatched.json<CommandJson>();
    const reconciler = platform.app.get(Reconciler);
    const quietPass = async () => {
      await sql(
        `UPDATE commands SET updated_at = now() - interval '1 hour' WHERE command_id = $1`,
        [commandId],
      );
      await sql(
        `UPDATE command_reconciliations SET checked_at = now() - interval '1 hour' WHERE command_id = $1`,
        [commandId],
      );
      expect((await reconciler.pass()).checked).toBeGreaterThanOrEqual(1);
    };
    const history = async () =>
      (
        await platform.app.inject({ method: 'GET', url: `/commands/${commandId}` })
      ).json<CommandJson>().history;

    await quietPass();
    await quietPass();
    expect(await history()).toHaveLength(1);

    await platform.emulator.advance(commandId, 'DELIVERED');
    await quietPass();
    expect((await history()).map((entry) => [entry.source, entry.status, entry.outcome])).toEqual([
      ['dispatch', kind === 'iotda' ? 'SENT' : 'PENDING', 'applied'],
      ['reconcile', 'DELIVERED', 'applied'],
    ]);
  });
});
