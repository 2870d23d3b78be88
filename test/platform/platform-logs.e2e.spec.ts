import { Reconciler } from '../../src/platform/reconciler.js';
import {
  IOTDA_KEYS,
  OC_APP,
  type PlatformKind,
  dispatchBody,
  usePlatformApp,
} from '../support/platform.js';

const CALLBACK_TOKEN = 'callback-token-never-logged';

describe.each<PlatformKind>(['iotda', 'oceanconnect'])(
  'platform secrets in the logs on %s',
  (kind) => {
    const lines: string[] = [];
    const platform = usePlatformApp(kind, {
      env: { LOG_LEVEL: 'trace', CALLBACK_TOKEN: CALLBACK_TOKEN, RECONCILE_AFTER_SECONDS: '1' },
      logDestination: { write: (line: string) => void lines.push(line) },
    });

    it('never writes the keys, the secret, the access token or the callback token, whatever happens', async () => {
      const dispatch = (headers: Record<string, string> = {}) =>
        platform.app.inject({
          method: 'POST',
          url: '/commands/dispatch',
          payload: dispatchBody(),
          headers,
        });
      const created = await dispatch();
      expect(created.statusCode).toBe(201);
      platform.emulator.failNext('create', {
        kind: 'refuse',
        httpStatus: 400,
        code: 'E',
        message: 'refused',
      });
      expect((await dispatch()).statusCode).toBe(502);
      platform.emulator.failNext('create', { kind: 'hang', afterEffect: true });
      expect((await dispatch({ 'idempotency-key': 'log-key' })).statusCode).toBe(504);
      platform.emulator.revokeTokens();
      await platform.app.get(Reconciler).pass();
      expect(
        (
          await platform.app.inject({
            method: 'POST',
            url: `/commands/${created.json().commandId}/reconcile`,
          })
        ).statusCode,
      ).toBe(200);

      const accessTokens = platform.emulator.calls
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
