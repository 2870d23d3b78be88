import {
  ConfigError,
  type Env,
  MIN_SECRET_LENGTH,
  brokerUrl,
  httpUrl,
  integer,
  optionalString,
} from './env-values.js';

export interface EventsConfig {
  /** AMQP 0-9-1 broker URL (with credentials) and the topic exchange published to. */
  readonly amqp: { readonly url: string; readonly exchange: string } | undefined;
  /** NATS server URL and the subject prefix (`<subject>.<status>`). */
  readonly nats: { readonly url: string; readonly subject: string } | undefined;
  /** Where changes are POSTed, and the secret that signs them. */
  readonly webhook: { readonly url: string; readonly secret: string } | undefined;
  /** A sink further behind than this shows `degraded` in /health/ready. */
  readonly maxLagSeconds: number;
}

// RabbitMQ's exchange names: up to 255 of these characters.
const EXCHANGE_NAME = /^[A-Za-z0-9_.:-]{1,255}$/;
// NATS subject tokens without wildcards, so that `<subject>.<status>` is a literal subject.
const SUBJECT_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
// A Standard Webhooks secret: whsec_ and the base64 of the key.
const WHSEC = /^whsec_([A-Za-z0-9+/]+={0,2})$/;

export function eventsConfig(env: Env): EventsConfig {
  const amqpUrl = optionalString(env, 'EVENTS_AMQP_URL');
  const exchange = optionalString(env, 'EVENTS_AMQP_EXCHANGE')?.trim() ?? 'command-tracker.events';
  if (!EXCHANGE_NAME.test(exchange)) {
    throw new ConfigError(
      'EVENTS_AMQP_EXCHANGE',
      'must be 1 to 255 letters, digits, hyphens, underscores, periods or colons',
    );
  }
  const natsUrl = optionalString(env, 'EVENTS_NATS_URL');
  const subject = optionalString(env, 'EVENTS_NATS_SUBJECT')?.trim() ?? 'commands';
  if (!SUBJECT_PREFIX.test(subject) || subject.length > 200) {
    throw new ConfigError(
      'EVENTS_NATS_SUBJECT',
      'must be a NATS subject without wildcards (tokens of letters, digits, - or _ joined by periods)',
    );
  }
  const webhookUrl = optionalString(env, 'WEBHOOK_URL');
  const secret = optionalString(env, 'WEBHOOK_SECRET');
  if (webhookUrl !== undefined && secret === undefined) {
    throw new ConfigError('WEBHOOK_SECRET', 'must be set when WEBHOOK_URL is');
  }
  if (secret !== undefined && webhookUrl === undefined) {
    throw new ConfigError('WEBHOOK_URL', 'must be set when WEBHOOK_SECRET is');
  }
  if (secret !== undefined) {
    checkWebhookSecret(secret);
  }
  return {
    amqp:
      amqpUrl === undefined
        ? undefined
        : { url: brokerUrl('EVENTS_AMQP_URL', amqpUrl, ['amqp:', 'amqps:']), exchange },
    nats:
      natsUrl === undefined
        ? undefined
        : { url: brokerUrl('EVENTS_NATS_URL', natsUrl, ['nats:', 'tls:']), subject },
    webhook:
      webhookUrl === undefined || secret === undefined
        ? undefined
        : { url: httpUrl(env, 'WEBHOOK_URL'), secret },
    maxLagSeconds: integer(env, 'EVENTS_MAX_LAG_SECONDS', 60, 1, 86400),
  };
}

/** At least MIN_SECRET_LENGTH characters, and a whsec_ secret must hold a key that long. */
function checkWebhookSecret(secret: string): void {
  const whsec = WHSEC.exec(secret.trim());
  if (secret.trim().startsWith('whsec_') && whsec === null) {
    throw new ConfigError('WEBHOOK_SECRET', 'starts with whsec_ but the rest is not base64');
  }
  const length = whsec === null ? secret.length : Buffer.from(whsec[1], 'base64').length;
  if (length < MIN_SECRET_LENGTH) {
    throw new ConfigError(
      'WEBHOOK_SECRET',
      `must be at least ${MIN_SECRET_LENGTH} characters (a whsec_ secret: ${MIN_SECRET_LENGTH} bytes) long: generate one, e.g. openssl rand -hex 24`,
    );
  }
}
