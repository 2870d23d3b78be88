import { IotdaClient } from '../../src/platform/iotda.client.js';
import { OceanConnectClient } from '../../src/platform/oceanconnect.client.js';
import { dispatchBody, platformConfig, usePlatformApp } from '../support/platform.js';

// Ids go into platform paths percent-encoded in full: `.` and `..` are ids like any other, never
// path segments a URL parser or the platform would resolve.
describe('ids in platform paths on iotda', () => {
  const platform = usePlatformApp('iotda');

  it.each([
    ['..', '%2E%2E'],
    ['.', '%2E'],
    ['a.b', 'a%2Eb'],
  ])('dispatches to device %s at its own path, signed as sent', async (deviceId, encoded) => {
    const response = await platform.app.inject({
      method: 'POST',
      url: '/commands/dispatch',
      payload: dispatchBody({ deviceId }),
    });
    expect(response.statusCode).toBe(201);
    const call = platform.emulator.callsOf('create').at(-1);
    expect(call?.path).toBe(`/v5/iot/project-1/devices/${encoded}/async-commands`);
    // The emulator checks the signature over the path it received.
    expect(call?.accessKey).toBeDefined();
    const { commandId } = response.json<{ commandId: string }>();
    expect(platform.emulator.commands.get(commandId)?.deviceId).toBe(deviceId);
  });

  it('looks up command .. of device . at its own path', async () => {
    const client = new IotdaClient(platformConfig('iotda', platform.emulator), 2000, () => {});
    // The platform does not know it; what matters is where it was asked.
    await expect(client.show({ commandId: '..', deviceId: '.' })).resolves.toBeUndefined();
    const call = platform.emulator.callsOf('show').at(-1);
    expect(call?.path).toBe('/v5/iot/project-1/devices/%2E/async-commands/%2E%2E');
    expect(call?.accessKey).toBeDefined();
  });
});

describe('ids in platform paths on oceanconnect', () => {
  const platform = usePlatformApp('oceanconnect');

  it('cancels command .. at its own path', async () => {
    const client = new OceanConnectClient(
      platformConfig('oceanconnect', platform.emulator),
      2000,
      () => {},
    );
    await expect(client.cancel({ commandId: '..', deviceId: 'device-1' })).rejects.toMatchObject({
      httpStatus: 404,
    });
    expect(platform.emulator.callsOf('cancel').at(-1)?.path).toBe(
      '/iocm/app/cmd/v1.4.0/deviceCommands/%2E%2E',
    );
  });
});
