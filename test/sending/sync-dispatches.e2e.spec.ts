import { eventuallyDefined } from '../support/eventually.js';
import { dispatchBody, usePlatformApp } from '../support/platform.js';

interface DispatchJson {
  dispatchId: string;
  state: string;
  commandId: string | null;
  attempts: { outcome: string; platformError?: { code: string } }[];
}

interface CommandJson {
  commandId: string;
  status: string;
  resultDetail: unknown;
  history: { source: string; status: string; outcome: string }[];
}

describe('sync dispatches (IoTDA CreateCommand, MQTT devices)', () => {
  const platform = usePlatformApp('iotda', {
    env: { DISPATCH_RETRY_BASE_SECONDS: '1', DISPATCH_RETRY_MAX_SECONDS: '1' },
  });

  const queue = async (body: object) => {
    const response = await platform.app.inject({
      method: 'POST',
      url: '/dispatches',
      payload: body,
    });
    expect(response.statusCode).toBe(202);
    return response.json<DispatchJson>();
  };
  const until = (dispatchId: string, state: string) =>
    eventuallyDefined(`dispatch ${dispatchId} ${state}`, async () => {
      const current = (
        await platform.app.inject({ method: 'GET', url: `/dispatches/${dispatchId}` })
      ).json<DispatchJson>();
      return current.state === state ? current : undefined;
    });
  const command = async (commandId: string) =>
    (
      await platform.app.inject({ method: 'GET', url: `/commands/${commandId}` })
    ).json<CommandJson>();

  afterEach(() => {
    platform.emulator.syncAnswer = () => ({ response: { result_code: 0 } });
  });

  it('tracks the command under the returned command_id: SENT, then SUCCESSFUL with the response', async () => {
    const response = { result_code: 0, response_name: 'ON_OFF', paras: { value: 'ON' } };
    platform.emulator.syncAnswer = () => ({ response });
    const dispatch = await queue(dispatchBody({ mode: 'sync' }));
    const sent = await until(dispatch.dispatchId, 'sent');
    const call = platform.emulator.callsOf('create_sync').at(-1);
    expect(call?.path).toMatch(/^\/v5\/iot\/project-1\/devices\/[^/]+\/commands$/);
    expect(platform.emulator.commands.has(sent.commandId ?? '')).toBe(true);
    const tracked = await command(sent.commandId ?? '');
    expect(tracked).toMatchObject({ status: 'SUCCESSFUL', resultDetail: response });
    expect(tracked.history.map((entry) => [entry.source, entry.status])).toEqual([
      ['dispatch', 'SENT'],
      ['dispatch', 'SUCCESSFUL'],
    ]);
  });

  it('is FAILED when the device answers a result_code other than 0', async () => {
    platform.emulator.syncAnswer = () => ({
      response: { result_code: 1, paras: { error: 'busy' } },
    });
    const dispatch = await queue(dispatchBody({ mode: 'sync' }));
    const sent = await until(dispatch.dispatchId, 'sent');
    expect((await command(sent.commandId ?? '')).status).toBe('FAILED');
  });

  it('is TIMEOUT when the platform answers IOTDA.014111, under the dispatchId', async () => {
    platform.emulator.syncAnswer = () => ({ timeout: true });
    const dispatch = await queue(dispatchBody({ mode: 'sync' }));
    const sent = await until(dispatch.dispatchId, 'sent');
    expect(sent.commandId).toBe(dispatch.dispatchId);
    expect((await command(dispatch.dispatchId)).status).toBe('TIMEOUT');
  });

  it('retries an offline device (IOTDA.014016, HTTP 403)', async () => {
    const body = dispatchBody({ mode: 'sync' });
    platform.emulator.offline.add(body.deviceId as string);
    const dispatch = await queue(body);
    await eventuallyDefined('an offline attempt', async () => {
      const current = (
        await platform.app.inject({ method: 'GET', url: `/dispatches/${dispatch.dispatchId}` })
      ).json<DispatchJson>();
      return current.attempts.length > 0 ? current : undefined;
    });
    platform.emulator.offline.delete(body.deviceId as string);
    const sent = await until(dispatch.dispatchId, 'sent');
    expect(sent.attempts.map((attempt) => attempt.outcome)).toEqual(['offline', 'sent']);
    expect(sent.attempts[0].platformError?.code).toBe('IOTDA.014016');
  });

  it('sends other devices while a device takes its time to answer', async () => {
    const slow = dispatchBody({ mode: 'sync' });
    platform.emulator.syncAnswer = (deviceId) =>
      deviceId === slow.deviceId
        ? { response: { result_code: 0 }, delayMs: 5000 }
        : { response: { result_code: 0 } };
    const slowDispatch = await queue(slow);
    await eventuallyDefined('the slow call started', async () =>
      platform.emulator
        .callsOf('create_sync')
        .some((call) => call.path.includes(slow.deviceId as string))
        ? true
        : undefined,
    );
    const quick = await queue(dispatchBody({ mode: 'sync' }));
    await until(quick.dispatchId, 'sent');
    const stillSending = (
      await platform.app.inject({ method: 'GET', url: `/dispatches/${slowDispatch.dispatchId}` })
    ).json<DispatchJson>();
    expect(stillSending.state).toBe('sending');
    await until(slowDispatch.dispatchId, 'sent');
  });
});
