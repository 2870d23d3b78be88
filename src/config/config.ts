// The service's configuration, read from the environment once at start-up (docs/api.md,
// "Configuration").

import { readFileSync } from 'node:fs';
import { assertNever } from '../commands/command-status.js';
import {
  ConfigError,
  type Env,
  MIN_SECRET_LENGTH,
  boolean,
  brokerUrl,
  httpUrl,
  integer,
  oneOf,
  optionalString,
} from './env-values.js';
import { type EventsConfig, eventsConfig } from './events-config.js';

export const APP_CONFIG = Symbol('APP_CONFIG');

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface AppConfig {
  readonly port: number;
  readonly host: string;
  /** Unset: the embedded database (PGlite) in pgliteDataDir. */
  readonly databaseUrl: string | undefined;
  readonly pgliteDataDir: string;
  readonly dbPoolSize: number;
  readonly callbackToken: string | undefined;
  readonly apiKeys: readonly string[];
  readonly authDisabled: boolean;
  readonly bodyLimitBytes: number;
  readonly commandDeadlineSeconds: number;
  readonly sweepIntervalSeconds: number;
  readonly retentionDays: number;
  /** How often GET /changes sends a comment line, so proxies keep an idle stream open. */
  readonly changesHeartbeatSeconds: number;
  /** GET /changes streams this instance serves at once; beyond it a new one is answered 503. */
  readonly changesMaxClients: number;
  /** Apply concurrent reports together, one transaction (one commit) per batch. */
  readonly groupCommit: boolean;
  readonly logLevel: LogLevel;
  readonly production: boolean;
  /** AMQP 1.0 consumption of IoTDA's forwarded messages: broker URL (with credentials) and source address. */
  readonly iotdaAmqp: { readonly url: string; readonly queue: string } | undefined;
  /** Unset: no platform, so dispatch, cancel and reconciliation answer 501. */
  readonly platform: PlatformConfig | undefined;
  readonly platformTimeoutMs: number;
  readonly reconcileIntervalSeconds: number;
  readonly reconcileAfterSeconds: number;
  /** Platform calls a second that automatic reconciliation makes, across all instances. */
  readonly reconcileRate: number;
  /** Open commands per device sent from the queue (/dispatches). */
  readonly dispatchDeviceConcurrency: number;
  readonly dispatchMaxAttempts: number;
  readonly dispatchRetryBaseSeconds: number;
  readonly dispatchRetryMaxSeconds: number;
  /** Platform calls a second for dispatches, across all instances. */
  readonly dispatchRate: number;
  /** How long a dispatch's lease outlives its platform call's longest wait. */
  readonly dispatchLeaseMarginSeconds: number;
  /** Where applied changes are delivered besides GET /changes (docs/events.md). */
  readonly events: EventsConfig;
}

const PLATFORMS = ['iotda', 'oceanconnect'] as const;
export type PlatformName = (typeof PLATFORMS)[number];

export type PlatformConfig =
  | {
      readonly name: 'iotda';
      readonly endpoint: string;
      readonly projectId: string;
      readonly accessKey: string;
      readonly secretKey: string;
      /** Set: the derived V11-HMAC-SHA256 signing; unset: SDK-HMAC-SHA256. */
      readonly region: string | undefined;
      readonly instanceId: string | undefined;
    }
  | {
      readonly name: 'oceanconnect';
      readonly baseUrl: string;
      readonly appId: string;
      readonly secret: string;
      /** The legacy callbackUrl: PUBLIC_URL + /callbacks/command-status (+ ?token=). */
      readonly callbackUrl: string | undefined;
      readonly certFile: string | undefined;
      readonly keyFile: string | undefined;
      readonly caFile: string | undefined;
    };

/**
 * Secrets that may be given as a file instead (`<NAME>_FILE`: its path), as orchestrators mount
 * them, so that they stay out of the process environment and `docker inspect`.
 */
export const SECRETS_FROM_FILES = [
  'DATABASE_URL',
  'CALLBACK_TOKEN',
  'API_KEYS',
  'IOTDA_AK',
  'IOTDA_SK',
  'IOTDA_AMQP_URL',
  'OC_SECRET',
] as const;

/** The environment with each `<NAME>_FILE` of SECRETS_FROM_FILES read into `<NAME>`. */
function withSecretFiles(env: Env): Env {
  const resolved: Record<string, string | undefined> = { ...env };
  for (const name of SECRETS_FROM_FILES) {
    const path = optionalString(env, `${name}_FILE`);
    if (path === undefined) {
      continue;
    }
    if (optionalString(env, name) !== undefined) {
      throw new ConfigError(`${name}_FILE`, `and ${name} are both set: set one of them`);
    }
    let content: string;
    try {
      content = readFileSync(path.trim(), 'utf8');
    } catch (error) {
      // The code only: the message never repeats anything read.
      const code = (error as NodeJS.ErrnoException).code ?? 'an error';
      throw new ConfigError(`${name}_FILE`, `names a file that cannot be read (${code})`);
    }
    // Secret files usually end with a newline, which is no part of the secret.
    resolved[name] = content.replace(/[\r\n]+$/, '');
  }
  return resolved;
}

/** Parses and checks every variable; the first bad one stops start-up with a message naming it. */
export function loadConfig(given: Env = process.env): AppConfig {
  const env = withSecretFiles(given);
  const callbackToken = optionalString(env, 'CALLBACK_TOKEN');
  const apiKeys = (optionalString(env, 'API_KEYS') ?? '')
    .split(',')
    .map((key) => key.trim())
    .filter((key) => key.length > 0);
  const authDisabled = boolean(env, 'AUTH_DISABLED', false);
  const production = env.NODE_ENV === 'production';
  if (production) {
    checkProductionSecrets(callbackToken, apiKeys, authDisabled);
  }
  const databaseUrl = optionalString(env, 'DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'must be a postgres:// or postgresql:// URL');
  }
  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: optionalString(env, 'HOST') ?? '0.0.0.0',
    databaseUrl,
    pgliteDataDir: optionalString(env, 'PGLITE_DATA_DIR') ?? './data/pglite',
    dbPoolSize: integer(env, 'DB_POOL_SIZE', 10, 1, 1000),
    callbackToken,
    apiKeys,
    authDisabled,
    bodyLimitBytes: integer(env, 'BODY_LIMIT_BYTES', 65536, 1024, 100 * 1024 * 1024),
    commandDeadlineSeconds: integer(env, 'COMMAND_DEADLINE_SECONDS', 172800, 1, 31536000),
    sweepIntervalSeconds: integer(env, 'SWEEP_INTERVAL_SECONDS', 30, 1, 86400),
    retentionDays: integer(env, 'RETENTION_DAYS', 0, 0, 36500),
    changesHeartbeatSeconds: integer(env, 'CHANGES_HEARTBEAT_SECONDS', 15, 1, 3600),
    changesMaxClients: integer(env, 'CHANGES_MAX_CLIENTS', 1000, 1, 100000),
    groupCommit: boolean(env, 'GROUP_COMMIT', true),
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    production,
    iotdaAmqp: iotdaAmqp(env),
    platform: platformConfig(env, callbackToken),
    platformTimeoutMs: integer(env, 'PLATFORM_TIMEOUT_MS', 10000, 100, 60000),
    reconcileIntervalSeconds: integer(env, 'RECONCILE_INTERVAL_SECONDS', 60, 1, 86400),
    reconcileAfterSeconds: integer(env, 'RECONCILE_AFTER_SECONDS', 600, 1, 86400),
    reconcileRate: integer(env, 'RECONCILE_RATE', defaultReconcileRate(env), 1, 1000),
    dispatchDeviceConcurrency: integer(env, 'DISPATCH_DEVICE_CONCURRENCY', 1, 1, 20),
    dispatchMaxAttempts: integer(env, 'DISPATCH_MAX_ATTEMPTS', 8, 1, 100),
    dispatchRetryBaseSeconds: integer(env, 'DISPATCH_RETRY_BASE_SECONDS', 5, 1, 86400),
    dispatchRetryMaxSeconds: integer(env, 'DISPATCH_RETRY_MAX_SECONDS', 600, 1, 86400),
    dispatchRate: integer(env, 'DISPATCH_RATE', 50, 1, 1000),
    dispatchLeaseMarginSeconds: integer(env, 'DISPATCH_LEASE_MARGIN_SECONDS', 30, 1, 3600),
    events: eventsConfig(env),
  };
}

// The legacy platform allows an application 100 calls a minute; IoTDA far more.
function defaultReconcileRate(env: Env): number {
  return optionalString(env, 'PLATFORM') === 'oceanconnect' ? 1 : 10;
}

// The placeholders of docker-compose.yml and the documentation, published with this repository.
const PLACEHOLDER = /^change-me/i;

/**
 * Production needs both doors shut: a callback token and API keys, each long and not a published
 * placeholder. AUTH_DISABLED=true permits running without them, never with a weak one.
 */
function checkProductionSecrets(
  callbackToken: string | undefined,
  apiKeys: readonly string[],
  authDisabled: boolean,
): void {
  if (!authDisabled) {
    for (const [name, missing] of [
      ['CALLBACK_TOKEN', callbackToken === undefined],
      ['API_KEYS', apiKeys.length === 0],
    ] as const) {
      if (missing) {
        throw new ConfigError(
          name,
          'must be set with NODE_ENV=production (CALLBACK_TOKEN and API_KEYS both), or set AUTH_DISABLED=true to run without authentication',
        );
      }
    }
  }
  const secrets: [string, string][] = [
    ...(callbackToken === undefined ? [] : [['CALLBACK_TOKEN', callbackToken] as [string, string]]),
    ...apiKeys.map((key) => ['API_KEYS', key] as [string, string]),
  ];
  for (const [name, secret] of secrets) {
    if (PLACEHOLDER.test(secret.trim())) {
      throw new ConfigError(
        name,
        'is a placeholder (starts with change-me) with NODE_ENV=production: generate a secret, e.g. openssl rand -hex 24',
      );
    }
    if (secret.length < MIN_SECRET_LENGTH) {
      throw new ConfigError(
        name,
        `must be at least ${MIN_SECRET_LENGTH} characters long with NODE_ENV=production (each key): generate one, e.g. openssl rand -hex 24`,
      );
    }
  }
}

function iotdaAmqp(env: Env): AppConfig['iotdaAmqp'] {
  const url = optionalString(env, 'IOTDA_AMQP_URL');
  const queue = optionalString(env, 'IOTDA_AMQP_QUEUE');
  if (url === undefined && queue === undefined) {
    return undefined;
  }
  if (url === undefined) {
    throw new ConfigError('IOTDA_AMQP_URL', 'must be set when IOTDA_AMQP_QUEUE is');
  }
  if (queue === undefined) {
    throw new ConfigError('IOTDA_AMQP_QUEUE', 'must be set when IOTDA_AMQP_URL is');
  }
  return { url: brokerUrl('IOTDA_AMQP_URL', url, ['amqp:', 'amqps:']), queue: queue.trim() };
}

function platformConfig(env: Env, callbackToken: string | undefined): PlatformConfig | undefined {
  const name =
    optionalString(env, 'PLATFORM') === undefined
      ? undefined
      : oneOf(env, 'PLATFORM', PLATFORMS, 'iotda');
  switch (name) {
    case undefined:
      return undefined;
    case 'iotda':
      return {
        name,
        endpoint: httpUrl(env, 'IOTDA_ENDPOINT'),
        projectId: requiredString(env, 'IOTDA_PROJECT_ID', name),
        accessKey: requiredString(env, 'IOTDA_AK', name),
        secretKey: requiredString(env, 'IOTDA_SK', name),
        region: optionalString(env, 'IOTDA_REGION')?.trim(),
        instanceId: optionalString(env, 'IOTDA_INSTANCE_ID')?.trim(),
      };
    case 'oceanconnect': {
      const publicUrl =
        optionalString(env, 'PUBLIC_URL') === undefined ? undefined : httpUrl(env, 'PUBLIC_URL');
      let callbackUrl: string | undefined;
      if (publicUrl !== undefined) {
        const url = new URL(`${publicUrl.replace(/\/+$/, '')}/callbacks/command-status`);
        if (callbackToken !== undefined) {
          url.searchParams.set('token', callbackToken);
        }
        callbackUrl = url.toString();
      }
      return {
        name,
        baseUrl: httpUrl(env, 'OC_BASE_URL'),
        appId: requiredString(env, 'OC_APP_ID', name),
        secret: requiredString(env, 'OC_SECRET', name),
        callbackUrl,
        certFile: optionalString(env, 'OC_CERT_FILE'),
        keyFile: optionalString(env, 'OC_KEY_FILE'),
        caFile: optionalString(env, 'OC_CA_FILE'),
      };
    }
    default:
      return assertNever(name);
  }
}

function requiredString(env: Env, name: string, platform: PlatformName): string {
  const value = optionalString(env, name);
  if (value === undefined) {
    throw new ConfigError(name, `must be set with PLATFORM=${platform}`);
  }
  return value.trim();
}
