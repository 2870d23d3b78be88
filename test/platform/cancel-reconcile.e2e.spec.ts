import { registrationBody } from '../support/factories.js';
import { type PlatformKind, dispatchBody, usePlatformApp } from '../support/platform.js';

interface CommandJson {
  commandId: string;
  status: string;
  resultDetail: unknown;
  history: { source: string; status: string; outcome: string; payload?: unknown }[];
}

describe.each<PlatformKind>(['iotda', 'oceanconnect'])('cancel and reconcile on %s', (kind) => {
  const platform = usePlatformApp(kind);

  const post = (url: string, payload?: object) =>
    platform.app.inject({ method: 'POST', url, payload });
  const dispatched = async (overrides: Record<string, unknown> = {}) => {
    const response = await post('/commands/dispatch', dispatchBody(overrides));
    expect(response.statusCode).toBe(201);
    return response.json<CommandJson>();
  };

  describe('POST /commands/{commandId}/reconcile', () => {
    it('applies the status the platform holds now, with source reconcile and its record as payload', async () => {
      const { commandId } = await dispatched();
      await platform.emulator.advance(commandId, 'SUCCESSFUL', { code: 200 });
      const response = await post(`/commands/${commandId}/reconcile`);
      expect(response.statusCode).toBe(200);
      const command = response.json<CommandJson>();
      expect(command).toMatchObject({
        commandId,
        status: 'SUCCESSFUL',
        resultDetail: { code: 200 },
      });
      expect(command.history.at(-1)).toMatchObject({
        source: 'reconcile',
        status: 'SUCCESSFUL',
        outcome: 'applied',
      });
      expect(command.history.at(-1)?.payload).toMatchObject({ status: 'SUCCESSFUL' });
    });

    it('never moves a command back: an older status from the platform is recorded as stale', async () => {
      const { commandId } = await dispatched();
      await platform.emulator.advance(commandId, 'DELIVERED');
      expect((await post(`/commands/${commandId}/reconcile`)).json<CommandJson>().status).toBe(
        'DELIVERED',
      );
      // The platform answers an older status (a replica behind, say).
      await platform.emulator.advance(commandId, 'SENT');
      const command = (await post(`/commands/${commandId}/reconcile`)).json<CommandJson>();
      expect(command.status).toBe('DELIVERED');
      expect(command.history.at(-1)).toMatchObject({
        source: 'reconcile',
        status: 'SENT',
        outcome: 'stale',
      });
    });

    it('answers 404 for a command unknown here, and calls no platform', async () => {
      const calls = platform.emulator.calls.length;
      const response = await post('/commands/never-seen-here/reconcile');
      expect(response.statusCode).toBe(404);
      expect(platform.emulator.calls.length).toBe(calls);
    });

    it('answers 404 for a command the platform does not know', async () => {
      const registered = registrationBody();
      expect((await post('/commands', registered)).statusCode).toBe(201);
      const response = await post(`/commands/${registered.commandId as string}/reconcile`);
      expect(response.statusCode).toBe(404);
      expect(response.headers['content-type']).toContain('application/problem+json');
    });

    it('answers 502 with platformError when the platform refuses', async () => {
      const { commandId } = await dispatched();
      platform.emulator.failNext(kind === 'iotda' ? 'show' : 'list', {
        kind: 'refuse',
        httpStatus: 400,
        code: 'E400',
        message: 'invalid input',
      });
      const response = await post(`/commands/${commandId}/reconcile`);
      expect(response.statusCode).toBe(502);
      expect(response.json().platformError).toEqual({ code: 'E400', message: 'invalid input' });
    });

    it('answers 504 when the platform does not answer in time', async () => {
      const { commandId } = await dispatched();
      platform.emulator.failNext(kind === 'iotda' ? 'show' : 'list', {
        kind: 'hang',
        afterEffect: false,
      });
      const response = await post(`/commands/${commandId}/reconcile`);
      expect(response.statusCode).toBe(504);
      expect(response.headers['content-type']).toContain('application/problem+json');
    });

    it('counts what reconciliation learned in /metrics', async () => {
      const metrics = (await platform.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toMatch(
        /command_reconciled_total\{status="SUCCESSFUL",outcome="applied"\} [1-9]/,
      );
    });
  });

  describe('POST /commands/{commandId}/cancel', () => {
    if (kind === 'iotda') {
      it('answers 501: IoTDA has no cancel', async () => {
        const { commandId } = await dispatched();
        const response = await post(`/commands/${commandId}/cancel`);
        expect(response.statusCode).toBe(501);
        expect(platform.emulator.callsOf('cancel')).toHaveLength(0);
      });
      return;
    }

    it('cancels a PENDING command on the platform and applies CANCELED with source dispatch', async () => {
      const { commandId } = await dispatched();
      const response = await post(`/commands/${commandId}/cancel`);
      expect(response.statusCode).toBe(200);
      const command = response.json<CommandJson>();
      expect(command.status).toBe('CANCELED');
      expect(command.history.at(-1)).toMatchObject({
        source: 'dispatch',
        status: 'CANCELED',
        outcome: 'applied',
      });
      expect(platform.emulator.commands.get(commandId)?.status).toBe('CANCELED');
      const call = platform.emulator.callsOf('cancel').at(-1);
      expect(call).toMatchObject({
        method: 'PUT',
        path: `/iocm/app/cmd/v1.4.0/deviceCommands/${commandId}`,
      });
    });

    it('answers 409 with platformError when the platform refuses (the command is no longer PENDING)', async () => {
      const { commandId } = await dispatched();
      await platform.emulator.advance(commandId, 'SENT');
      const response = await post(`/commands/${commandId}/cancel`);
      expect(response.statusCode).toBe(409);
      expect(response.json().platformError).toMatchObject({ code: '100435' });
      expect(
        (
          await platform.app.inject({ method: 'GET', url: `/commands/${commandId}` })
        ).json<CommandJson>().status,
      ).toBe('PENDING');
    });

    it('answers 404 for a command unknown here', async () => {
      expect((await post('/commands/never-seen-here/cancel')).statusCode).toBe(404);
    });

    it('answers 504 when the platform does not answer in time', async () => {
      const { commandId } = await dispatched();
      platform.emulator.failNext('cancel', { kind: 'hang', afterEffect: false });
      expect((await post(`/commands/${commandId}/cancel`)).statusCode).toBe(504);
    });
  });

  it('routes POST /commands/dispatch to dispatch, not to a command named "dispatch"', async () => {
    const response = await post('/commands/dispatch', {});
    expect(response.statusCode).toBe(400);
  });
});
