import { type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type DestinationStream } from 'pino';
import { type AppConfig, type PlatformConfig, loadConfig } from '../../src/config/config.js';
import { PlatformEmulator } from '../../tools/platform-emulator.js';
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

/** The parsed configuration of `kind` pointing at the emulator, for a client built by hand. */
export function platformConfig<K extends PlatformKind>(
  kind: K,
  emulator: PlatformEmulator,
  extra: Record<string, string> = {},
): Extract<PlatformConfig, { name: K }> {
  const config = loadConfig(platformEnv(kind, emulator, extra)).platform;
  if (config?.name !== kind) {
    throw new Error(`expected the ${kind} configuration`);
  }
  return config as Extract<PlatformConfig, { name: K }>;
}

/** The emulator and the service pointed at it, shared by the tests of one describe block. */
export interface PlatformUnderTest {
  readonly emulator: PlatformEmulator;
  readonly app: NestFastifyApplication;
}

/**
 * Starts the emulator and the service configured for `kind` (with `env` on top of platformEnv's)
 * before the block's tests, and stops both after them. Read the fields inside tests and hooks
 * only: they are set once the block's beforeAll ran.
 */
export function usePlatformApp(
  kind: PlatformKind,
  options: { env?: Record<string, string>; logDestination?: DestinationStream } = {},
): PlatformUnderTest {
  let emulator: PlatformEmulator | undefined;
  let t: TestApp | undefined;
  beforeAll(async () => {
    emulator = await startEmulator();
    t = await startPlatformApp(platformEnv(kind, emulator, options.env), {}, undefined, {
      logDestination: options.logDestination,
    });
  });
  afterAll(async () => {
    await t?.close();
    await emulator?.close();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) {
      throw new Error('the platform and the service start in beforeAll');
    }
    return value;
  };
  return {
    get emulator() {
      return started(emulator);
    },
    get app() {
      return started(t).app;
    },
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
      dispatchDeviceConcurrency: config.dispatchDeviceConcurrency,
      dispatchMaxAttempts: config.dispatchMaxAttempts,
      dispatchRetryBaseSeconds: config.dispatchRetryBaseSeconds,
      dispatchRetryMaxSeconds: config.dispatchRetryMaxSeconds,
      dispatchRate: config.dispatchRate,
      dispatchLeaseMarginSeconds: config.dispatchLeaseMarginSeconds,
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
