import { type PlatformEmulator } from '../../bench/platform-emulator.js';
import { Reconciler } from '../../src/platform/reconciler.js';
import { type TestApp } from '../support/test-app.js';
import {
  IOTDA_KEYS,
  OC_APP,
  type PlatformKind,
  dispatchBody,
  platformEnv,
  startEmulator,
  startPlatformApp,
} from '../support/platform.js';

const CALLBACK_TOKEN = 'callback-token-never-logged';

describe.each<PlatformKind>(['iotda', 'oceanconnect'])(
  'platform secrets in the logs on %s',
  (kind) => {
    let emulator: PlatformEmulator;
    let t: TestApp;
    const lines: string[] = [];

    beforeAll(async () => {
      emulator = await startEmulator();
      t = await startPlatformApp(
        platformEnv(kind, emulator, {
          LOG_LEVEL: 'trace',
          CALLBACK_TOKEN: CALLBACK_TOKEN,
          RECONCILE_AFTER_SECONDS: '1',
        }),
        {},
        undefined,
        { logDestination: { write: (line: string) => void lines.push(line) } },
      );
    });

    afterAll(async () => {
      await t.close();
      await emulator.close();
    });

    it('never writes the keys, the secret, the access token or the callback token, whatever happens', async () => {
      const dispatch = (headers: Record<string, string> = {}) =>
        t.app.inject({
          method: 'POST',
          url: '/commands/dispatch',
          payload: dispatchBody(),
          headers,
        });
      const created = await dispatch();
      expect(created.statusCode).toBe(201);
      emulator.failNext('create', {
        kind: 'refuse',
        httpStatus: 500,
        code: 'E',
        message: 'refused',
      });
      expect((await dispatch()).statusCode).toBe(502);
      emulator.failNext('create', { kind: 'hang', afterEffect: true });
      expect((await dispatch({ 'idempotency-key': 'log-key' })).statusCode).toBe(504);
      emulator.revokeTokens();
      await t.app.get(Reconciler).pass();
      expect(
        (
          await t.app.inject({
            method: 'POST',
            url: `/commands/${created.json().commandId}/reconcile`,
          })
        ).statusCode,
      ).toBe(200);

      const accessTokens = emulator.calls
        .map((call) => /^Bearer (.+)$/.exec(call.headers.authorization ?? '')?.[1])
        .filter((token): token is string => token !== undefined);
      const log = lines.join('\n');
      // The calls and the found dispatch are logged, with what is safe to log.
      expect(log).toContain('Platform call');
      expect(log).toContain('Found a dispatch whose answer was lost');
      for (const secret of [IOTDA_KEYS.sk, OC_APP.secret, CALLBACK_TOKEN, ...accessTokens]) {
        expect(log).not.toContain(secret);
      }
      expect(log).not.toMatch(/Signature=[0-9a-f]{64}/);
    });
  },
);
