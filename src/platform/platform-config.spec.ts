import { loadConfig } from '../config/config.js';
import { ConfigError } from '../config/env-values.js';

const IOTDA = {
  PLATFORM: 'iotda',
  IOTDA_ENDPOINT: 'https://iotda.cn-north-4.myhuaweicloud.com/',
  IOTDA_PROJECT_ID: 'p-1',
  IOTDA_AK: 'ak',
  IOTDA_SK: 'sk',
};
const OC = {
  PLATFORM: 'oceanconnect',
  OC_BASE_URL: 'https://oc.example:8743',
  OC_APP_ID: 'app',
  OC_SECRET: 'secret',
};

describe('platform configuration', () => {
  it('has no platform by default, and the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      platform: undefined,
      platformTimeoutMs: 10000,
      reconcileIntervalSeconds: 60,
      reconcileAfterSeconds: 600,
      reconcileRate: 10,
    });
  });

  it.each([
    ['IoTDA', IOTDA, 10],
    ['the legacy platform, whose quota is 100 calls a minute,', OC, 1],
  ])('defaults RECONCILE_RATE on %s to %d', (_name, env, rate) => {
    expect(loadConfig(env).reconcileRate).toBe(rate);
    expect(loadConfig({ ...env, RECONCILE_RATE: '7' }).reconcileRate).toBe(7);
  });

  it('reads IoTDA with its optional region and instance', () => {
    expect(
      loadConfig({ ...IOTDA, IOTDA_REGION: 'cn-north-4', IOTDA_INSTANCE_ID: 'i-1' }).platform,
    ).toEqual({
      name: 'iotda',
      endpoint: 'https://iotda.cn-north-4.myhuaweicloud.com',
      projectId: 'p-1',
      accessKey: 'ak',
      secretKey: 'sk',
      region: 'cn-north-4',
      instanceId: 'i-1',
    });
  });

  it.each([
    [undefined, undefined],
    ['https://tracker.example/', undefined],
    ['https://tracker.example/base', 'tok en&1'],
  ])(
    'makes the legacy callbackUrl from PUBLIC_URL %s and CALLBACK_TOKEN %s',
    (publicUrl, token) => {
      const env: Record<string, string> = { ...OC };
      if (publicUrl !== undefined) {
        env.PUBLIC_URL = publicUrl;
      }
      if (token !== undefined) {
        env.CALLBACK_TOKEN = token;
      }
      const platform = loadConfig(env).platform;
      const expected =
        publicUrl === undefined
          ? undefined
          : token === undefined
            ? 'https://tracker.example/callbacks/command-status'
            : 'https://tracker.example/base/callbacks/command-status?token=tok+en%261';
      expect(platform).toMatchObject({ name: 'oceanconnect', callbackUrl: expected });
    },
  );

  it.each([
    ['PLATFORM', { PLATFORM: 'aws' }],
    ['IOTDA_ENDPOINT', { ...IOTDA, IOTDA_ENDPOINT: 'ftp://x' }],
    ['IOTDA_AK', { ...IOTDA, IOTDA_AK: '' }],
    ['IOTDA_SK', { ...IOTDA, IOTDA_SK: undefined }],
    ['OC_BASE_URL', { ...OC, OC_BASE_URL: undefined }],
    ['OC_SECRET', { ...OC, OC_SECRET: ' ' }],
    ['PUBLIC_URL', { ...OC, PUBLIC_URL: 'tracker.example' }],
    ['PLATFORM_TIMEOUT_MS', { PLATFORM_TIMEOUT_MS: '99' }],
    ['PLATFORM_TIMEOUT_MS', { PLATFORM_TIMEOUT_MS: '60001' }],
    ['RECONCILE_INTERVAL_SECONDS', { RECONCILE_INTERVAL_SECONDS: '0' }],
    ['RECONCILE_AFTER_SECONDS', { RECONCILE_AFTER_SECONDS: '86401' }],
    ['RECONCILE_RATE', { RECONCILE_RATE: '1001' }],
    ['DISPATCH_DEVICE_CONCURRENCY', { DISPATCH_DEVICE_CONCURRENCY: '21' }],
    ['DISPATCH_MAX_ATTEMPTS', { DISPATCH_MAX_ATTEMPTS: '0' }],
    ['DISPATCH_RETRY_BASE_SECONDS', { DISPATCH_RETRY_BASE_SECONDS: '86401' }],
    ['DISPATCH_RETRY_MAX_SECONDS', { DISPATCH_RETRY_MAX_SECONDS: 'soon' }],
    ['DISPATCH_RATE', { DISPATCH_RATE: '1001' }],
    ['DISPATCH_LEASE_MARGIN_SECONDS', { DISPATCH_LEASE_MARGIN_SECONDS: '0' }],
  ])('stops start-up naming %s when it is invalid', (variable, env) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^Invalid configuration: ${variable} `));
  });

  it('never puts a secret in its error messages', () => {
    expect(() => loadConfig({ ...OC, OC_BASE_URL: 'not a url with secret' })).toThrow(
      /OC_BASE_URL/,
    );
    try {
      loadConfig({ ...OC, OC_BASE_URL: 'not-a-url-s3cr3t' });
    } catch (error) {
      expect(String(error)).not.toContain('s3cr3t');
    }
  });
});
