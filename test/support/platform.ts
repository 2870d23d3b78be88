import { type DestinationStream } from 'pino';
import { type AppConfig, loadConfig } from '../../src/config/config.js';
import { PlatformEmulator } from '../../bench/platform-emulator.js';
import { type TestApp, startTestApp } from './test-app.js';
import { type TestDatabase } from './test-database.js';

export type PlatformKind = 'iotda' | 'oceanconnect';

export const IOTDA_KEYS = { ak: 'AKTESTACCESSKEY0001', sk: 'sk-very-secret-signing-key-0001' };
export const OC_APP = { appId: 'test-app-id', secret: 'oc-very-secret-app-secret-0001' };
export const PROJECT_ID = 'project-1';

export function startEmulator(
  options: {
    region?: string;
    tokenLifetimeSeconds?: number;
    forwardingUrl?: string;
    credentials?: Record<string, string>;
  } = {},
): Promise<PlatformEmulator> {
  return PlatformEmulator.start({
    iotda: {
      projectId: PROJECT_ID,
      credentials: options.credentials ?? { [IOTDA_KEYS.ak]: IOTDA_KEYS.sk },
      region: options.region,
      forwardingUrl: options.forwardingUrl,
    },
    oceanconnect: { ...OC_APP, tokenLifetimeSeconds: options.tokenLifetimeSeconds },
  });
}

/** The environment that points the service at the emulator for this platform. */
export function platformEnv(
  kind: PlatformKind,
  emulator: PlatformEmulator,
  extra: Record<string, string> = {},
): Record<string, string> {
  const base: Record<string, string> =
    kind === 'iotda'
      ? {
          PLATFORM: 'iotda',
          IOTDA_ENDPOINT: emulator.url,
          IOTDA_PROJECT_ID: PROJECT_ID,
          IOTDA_AK: IOTDA_KEYS.ak,
          IOTDA_SK: IOTDA_KEYS.sk,
        }
      : {
          PLATFORM: 'oceanconnect',
          OC_BASE_URL: emulator.url,
          OC_APP_ID: OC_APP.appId,
          OC_SECRET: OC_APP.secret,
          PUBLIC_URL: 'http://tracker.example:3000',
        };
  return {
    LOG_LEVEL: 'error',
    // Long enough for a loaded CI machine; the hung calls of the tests wait this long.
    PLATFORM_TIMEOUT_MS: '1500',
    // Passes run when a test asks (Reconciler.pass), unless a test sets a short interval.
    RECONCILE_INTERVAL_SECONDS: '86400',
    ...base,
    ...extra,
  };
}

/** The service on a fresh database (or the one given) with this platform's configuration. */
export function startPlatformApp(
  env: Record<string, string>,
  overrides: Partial<AppConfig> = {},
  database?: TestDatabase,
  options: { logDestination?: DestinationStream } = {},
): Promise<TestApp> {
  const config = loadConfig(env);
  return startTestApp(
    {
      callbackToken: config.callbackToken,
      logLevel: config.logLevel,
      platform: config.platform,
      platformTimeoutMs: config.platformTimeoutMs,
      reconcileIntervalSeconds: config.reconcileIntervalSeconds,
      reconcileAfterSeconds: config.reconcileAfterSeconds,
      reconcileRate: config.reconcileRate,
      ...overrides,
    },
    database,
    options,
  );
}

export function dispatchBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    deviceId: `device-${Math.random().toString(36).slice(2, 10)}`,
    serviceId: 'WaterMeter',
    method: 'SET_READ_PERIOD',
    paras: { value: 5, unit: 's' },
    ...overrides,
  };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > until) {
      throw new Error(`Not reached within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
