import { DataSource } from 'typeorm';
import { type Fault } from '../../tools/platform-emulator.js';
import { Reconciler } from '../../src/platform/reconciler.js';
import { type PlatformKind, dispatchBody, usePlatformApp } from '../support/platform.js';

interface CommandJson {
  commandId: string;
  status: string;
  history: { source: string; status: string; outcome: string }[];
}

// Over the client's 8 MB cap on an answer.
const OVERSIZED = `{"command_id":"${'x'.repeat(9 * 1024 * 1024)}"}`;

describe.each<PlatformKind>(['iotda', 'oceanconnect'])(
  'uncertain and invalid answers on %s',
  (kind) => {
    const platform = usePlatformApp(kind);

    const dispatch = (body: object, key: string) =>
      platform.app.inject({
        method: 'POST',
        url: '/commands/dispatch',
        payload: body,
        headers: { 'idempotency-key': key },
      });
    const listDevice = async (deviceId: string) =>
      (
        await platform.app.inject({
          method: 'GET',
          url: `/commands?deviceId=${encodeURIComponent(deviceId)}`,
        })
      ).json<{ items: CommandJson[] }>().items;
    const createdFor = (deviceId: string) =>
      [...platform.emulator.commands.values()].filter((command) => command.deviceId === deviceId);

    describe('an answer lost after the request may have reached the platform', () => {
      it.each<[string, Fault]>([
        ['a connection reset after sending', { kind: 'reset', afterEffect: true }],
        [
          'a 502 from a gateway',
          { kind: 'answer', httpStatus: 502, body: '<html>Bad Gateway</html>', afterEffect: true },
        ],
        [
          'an unreadable 2xx',
          { kind: 'answer', httpStatus: 201, body: '{"command_id": "abc', afterEffect: true },
        ],
        [
          'an answer over the size cap',
          { kind: 'answer', httpStatus: 201, body: OVERSIZED, afterEffect: true },
        ],
      ])(
        'after %s is a 504, the key answers 504 until reconciliation found the command, then 201',
        async (_name, fault) => {
          const body = dispatchBody();
          const key = `lost-${kind}-${Math.random()}`;
          platform.emulator.failNext('create', fault);
          const first = await dispatch(body, key);
          expect(first.statusCode).toBe(504);
          expect(first.headers['content-type']).toContain('application/problem+json');
          expect(await listDevice(body.deviceId as string)).toEqual([]);
          const creates = platform.emulator.callsOf('create').length;
          expect((await dispatch(body, key)).statusCode).toBe(504);

          await platform.app.get(Reconciler).pass();

          const [created] = createdFor(body.deviceId as string);
          const again = await dispatch(body, key);
          expect(again.statusCode).toBe(201);
          expect(again.json<CommandJson>().commandId).toBe(created.commandId);
          expect(platform.emulator.callsOf('create').length).toBe(creates);
          expect(createdFor(body.deviceId as string)).toHaveLength(1);
        },
        20_000,
      );

      it('answers 502 for the key once the platform is known to have no such command', async () => {
        const body = dispatchBody();
        const key = `never-${kind}-${Math.random()}`;
        platform.emulator.failNext('create', {
          kind: 'answer',
          httpStatus: 503,
          body: 'Service Unavailable',
          afterEffect: false,
        });
        expect((await dispatch(body, key)).statusCode).toBe(504);
        // While a call for it could still be running, not finding it proves nothing.
        await platform.app.get(Reconciler).pass();
        expect((await dispatch(body, key)).statusCode).toBe(504);
        await platform.app
          .get(DataSource)
          .query(
            `UPDATE dispatch_intents SET created_at = created_at - interval '1 minute', looked_up_at = NULL WHERE idempotency_key = $1`,
            [key],
          );
        await platform.app.get(Reconciler).pass();
        const settled = await dispatch(body, key);
        expect(settled.statusCode).toBe(502);
        expect(settled.json()).toMatchObject({ platformError: { code: 'NOT_CREATED' } });
        expect(await listDevice(body.deviceId as string)).toEqual([]);
      });
    });

    describe('answers checked like requests', () => {
      const commandIdField = kind === 'iotda' ? 'command_id' : 'commandId';

      it.each([
        ['an empty command id', ''],
        ['a command id with a control character', 'abc\u0007def'],
        ['a command id over 128 characters', 'c'.repeat(129)],
      ])('refuses a create answered with %s: 502, nothing stored', async (_name, commandId) => {
        const body = dispatchBody();
        platform.emulator.failNext('create', {
          kind: 'answer',
          httpStatus: 201,
          body: { [commandIdField]: commandId, status: 'SENT', deviceId: body.deviceId },
          afterEffect: false,
        });
        const response = await platform.app.inject({
          method: 'POST',
          url: '/commands/dispatch',
          payload: body,
        });
        expect(response.statusCode).toBe(502);
        expect(response.json()).toMatchObject({ platformError: { code: 'INVALID_ANSWER' } });
        expect(await listDevice(body.deviceId as string)).toEqual([]);
      });

      it.each([
        ['another command id', 'someone-elses-command'],
        ['an empty command id', ''],
      ])('refuses a lookup answered with %s: 502, nothing applied', async (_name, answeredId) => {
        const created = await platform.app.inject({
          method: 'POST',
          url: '/commands/dispatch',
          payload: dispatchBody(),
        });
        const { commandId, deviceId } = created.json<CommandJson & { deviceId: string }>();
        const record =
          kind === 'iotda'
            ? { command_id: answeredId, device_id: deviceId, status: 'SUCCESSFUL' }
            : { commandId: answeredId, deviceId, status: 'SUCCESSFUL' };
        // IoTDA shows one command; the legacy platform lists the device's commands.
        platform.emulator.failNext(kind === 'iotda' ? 'show' : 'list', {
          kind: 'answer',
          httpStatus: 200,
          body:
            kind === 'iotda'
              ? record
              : { pagination: { pageNo: 0, pageSize: 1000, totalSize: 1 }, data: [record] },
          afterEffect: false,
        });
        const response = await platform.app.inject({
          method: 'POST',
          url: `/commands/${commandId}/reconcile`,
        });
        if (kind === 'iotda' || answeredId === '') {
          expect(response.statusCode).toBe(502);
          expect(response.json()).toMatchObject({ platformError: { code: 'INVALID_ANSWER' } });
        } else {
          // A list of other commands says nothing of this one.
          expect(response.statusCode).toBe(404);
        }
        const command = await platform.app.inject({ method: 'GET', url: `/commands/${commandId}` });
        expect(command.json<CommandJson>().history).toHaveLength(1);
        const listed = await platform.app.inject({ method: 'GET', url: '/commands?limit=500' });
        expect(
          listed.json<{ items: CommandJson[] }>().items.map((item) => item.commandId),
        ).not.toContain(answeredId);
      });
    });
  },
);
