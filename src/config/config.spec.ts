import { LOG_LEVELS, loadConfig } from './config.js';
import { ConfigError, MIN_SECRET_LENGTH } from './env-values.js';

function failure(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      return error;
    }
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('uses the documented defaults when nothing is set', () => {
    expect(loadConfig({})).toEqual({
      port: 3000,
      host: '0.0.0.0',
      databaseUrl: undefined,
      pgliteDataDir: './data/pglite',
      dbPoolSize: 10,
      callbackToken: undefined,
      apiKeys: [],
      authDisabled: false,
      bodyLimitBytes: 65536,
      commandDeadlineSeconds: 172800,
      sweepIntervalSeconds: 30,
      retentionDays: 0,
      logLevel: 'info',
      changesHeartbeatSeconds: 15,
      changesMaxClients: 1000,
      groupCommit: true,
      production: false,
      iotdaAmqp: undefined,
      platform: undefined,
      platformTimeoutMs: 10000,
      reconcileIntervalSeconds: 60,
      reconcileAfterSeconds: 600,
      reconcileRate: 10,
      dispatchDeviceConcurrency: 1,
      dispatchMaxAttempts: 8,
      dispatchRetryBaseSeconds: 5,
      dispatchRetryMaxSeconds: 600,
      dispatchRate: 50,
      dispatchLeaseMarginSeconds: 30,
      events: { amqp: undefined, nats: undefined, webhook: undefined, maxLagSeconds: 60 },
    });
  });

  it('treats empty and blank values as unset', () => {
    const config = loadConfig({ PORT: '', DB_POOL_SIZE: '  ', LOG_LEVEL: '', DATABASE_URL: '' });
    expect(config).toMatchObject({
      port: 3000,
      dbPoolSize: 10,
      logLevel: 'info',
      databaseUrl: undefined,
    });
  });

  it('reads every variable that is set', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgres://tracker:secret@db:5432/tracker',
      PGLITE_DATA_DIR: 'memory://',
      DB_POOL_SIZE: '20',
      CALLBACK_TOKEN: 'callback-token-0123456789',
      API_KEYS: ' key-1-0123456789abcdef, key-2-0123456789abcdef ,,',
      AUTH_DISABLED: 'true',
      BODY_LIMIT_BYTES: '1024',
      COMMAND_DEADLINE_SECONDS: '3600',
      SWEEP_INTERVAL_SECONDS: '5',
      RETENTION_DAYS: '30',
      LOG_LEVEL: 'debug',
      NODE_ENV: 'production',
    });
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: 'postgres://tracker:secret@db:5432/tracker',
      pgliteDataDir: 'memory://',
      dbPoolSize: 20,
      callbackToken: 'callback-token-0123456789',
      apiKeys: ['key-1-0123456789abcdef', 'key-2-0123456789abcdef'],
      authDisabled: true,
      bodyLimitBytes: 1024,
      commandDeadlineSeconds: 3600,
      sweepIntervalSeconds: 5,
      retentionDays: 30,
      logLevel: 'debug',
      production: true,
    });
  });

  describe.each([
    ['PORT', 0, 65535],
    ['DB_POOL_SIZE', 1, 1000],
    ['BODY_LIMIT_BYTES', 1024, 100 * 1024 * 1024],
    ['COMMAND_DEADLINE_SECONDS', 1, 31536000],
    ['SWEEP_INTERVAL_SECONDS', 1, 86400],
    ['RETENTION_DAYS', 0, 36500],
    ['CHANGES_HEARTBEAT_SECONDS', 1, 3600],
  ])('%s (a whole number from %d to %d)', (variable, min, max) => {
    it.each(['abc', '12abc', '-1', '1.5', '1e3', '0x10', String(max + 1), ...belowMin(min)])(
      'stops start-up on %p, naming the variable',
      (value) => {
        const error = failure({ [variable]: value });
        expect(error.variable).toBe(variable);
        expect(error.message).toBe(
          `Invalid configuration: ${variable} must be a whole number from ${min} to ${max}, got "${value}"`,
        );
      },
    );

    it('accepts both bounds', () => {
      expect(() => loadConfig({ [variable]: String(min) })).not.toThrow();
      expect(() => loadConfig({ [variable]: ` ${max} ` })).not.toThrow();
    });
  });

  describe('AUTH_DISABLED', () => {
    it.each([
      ['true', true],
      ['TRUE', true],
      ['1', true],
      ['false', false],
      ['0', false],
    ])('reads %p as %p', (value, expected) => {
      expect(loadConfig({ AUTH_DISABLED: value }).authDisabled).toBe(expected);
    });

    it.each(['yes', 'on', '2'])('stops start-up on %p, naming the variable', (value) => {
      const error = failure({ AUTH_DISABLED: value });
      expect(error.variable).toBe('AUTH_DISABLED');
      expect(error.message).toContain('AUTH_DISABLED must be true or false');
    });
  });

  describe('LOG_LEVEL', () => {
    it.each([...LOG_LEVELS])('accepts %p', (level) => {
      expect(loadConfig({ LOG_LEVEL: level }).logLevel).toBe(level);
    });

    it.each(['verbose', 'INFO', 'warning'])(
      'stops start-up on %p, naming the variable',
      (value) => {
        const error = failure({ LOG_LEVEL: value });
        expect(error.variable).toBe('LOG_LEVEL');
        expect(error.message).toBe(
          `Invalid configuration: LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${value}"`,
        );
      },
    );
  });

  describe('DATABASE_URL', () => {
    it.each(['postgres://postgres@127.0.0.1:5432/postgres', 'postgresql://u:p@db/tracker'])(
      'accepts %p',
      (url) => {
        expect(loadConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
      },
    );

    it.each(['mysql://root@db/tracker', 'db:5432', 'http://db'])(
      'stops start-up on %p, naming the variable',
      (url) => {
        const error = failure({ DATABASE_URL: url });
        expect(error.variable).toBe('DATABASE_URL');
        expect(error.message).toContain('DATABASE_URL must be a postgres:// or postgresql:// URL');
      },
    );
  });

  describe('authentication with NODE_ENV=production', () => {
    const TOKEN = 'a'.repeat(MIN_SECRET_LENGTH);
    const KEY = 'b'.repeat(MIN_SECRET_LENGTH);

    it('refuses to start with neither CALLBACK_TOKEN nor API_KEYS, naming both and AUTH_DISABLED', () => {
      const error = failure({ NODE_ENV: 'production' });
      expect(error.variable).toBe('CALLBACK_TOKEN');
      expect(error.message).toContain('API_KEYS');
      expect(error.message).toContain('AUTH_DISABLED=true');
    });

    it.each([
      ['CALLBACK_TOKEN', { API_KEYS: KEY }],
      ['API_KEYS', { CALLBACK_TOKEN: TOKEN }],
      ['API_KEYS', { CALLBACK_TOKEN: TOKEN, API_KEYS: ' , ,' }],
    ])('refuses to start with %s missing (%p): half the auth is an open door', (variable, env) => {
      const error = failure({ NODE_ENV: 'production', ...env });
      expect(error.variable).toBe(variable);
      expect(error.message).toContain('AUTH_DISABLED=true');
    });

    it.each([
      ['CALLBACK_TOKEN', { CALLBACK_TOKEN: 'a'.repeat(MIN_SECRET_LENGTH - 1), API_KEYS: KEY }],
      ['API_KEYS', { CALLBACK_TOKEN: TOKEN, API_KEYS: `${KEY},short` }],
      ['CALLBACK_TOKEN', { AUTH_DISABLED: 'true', CALLBACK_TOKEN: 'short' }],
    ])('refuses a %s shorter than 16 characters (%p)', (variable, env) => {
      const error = failure({ NODE_ENV: 'production', ...env });
      expect(error.variable).toBe(variable);
      expect(error.message).toContain(`at least ${MIN_SECRET_LENGTH} characters`);
    });

    it.each([
      ['CALLBACK_TOKEN', { CALLBACK_TOKEN: 'change-me-callback-token', API_KEYS: KEY }],
      ['API_KEYS', { CALLBACK_TOKEN: TOKEN, API_KEYS: 'Change-Me-api-key-0123456789' }],
      ['API_KEYS', { AUTH_DISABLED: 'true', API_KEYS: 'change-me-please-0123456789' }],
    ])('refuses a %s that is a change-me placeholder (%p)', (variable, env) => {
      const error = failure({ NODE_ENV: 'production', ...env });
      expect(error.variable).toBe(variable);
      expect(error.message).toContain('placeholder');
    });

    it('never repeats the refused secret in its message', () => {
      const secret = 'change-me-but-secret';
      expect(
        failure({ NODE_ENV: 'production', CALLBACK_TOKEN: secret, API_KEYS: KEY }).message,
      ).not.toContain(secret);
      expect(
        failure({ NODE_ENV: 'production', CALLBACK_TOKEN: TOKEN, API_KEYS: 'tiny' }).message,
      ).not.toContain('tiny');
    });

    it.each([
      [{ CALLBACK_TOKEN: TOKEN, API_KEYS: `${KEY},${'c'.repeat(40)}` }],
      [{ AUTH_DISABLED: 'true' }],
      [{ AUTH_DISABLED: 'true', CALLBACK_TOKEN: TOKEN }],
    ])('starts with %p', (env) => {
      expect(loadConfig({ NODE_ENV: 'production', ...env }).production).toBe(true);
    });

    it('accepts short secrets outside production', () => {
      expect(loadConfig({ CALLBACK_TOKEN: 'x', API_KEYS: 'change-me' })).toMatchObject({
        callbackToken: 'x',
        apiKeys: ['change-me'],
      });
    });

    it('starts without authentication outside production', () => {
      expect(loadConfig({ NODE_ENV: 'development' })).toMatchObject({
        production: false,
        callbackToken: undefined,
        apiKeys: [],
      });
    });
  });

  describe('IOTDA_AMQP_URL and IOTDA_AMQP_QUEUE', () => {
    it('reads both', () => {
      expect(
        loadConfig({ IOTDA_AMQP_URL: 'amqps://u:p@broker:5671', IOTDA_AMQP_QUEUE: ' q ' })
          .iotdaAmqp,
      ).toEqual({ url: 'amqps://u:p@broker:5671', queue: 'q' });
    });

    it.each([
      ['IOTDA_AMQP_QUEUE', { IOTDA_AMQP_URL: 'amqp://broker' }],
      ['IOTDA_AMQP_URL', { IOTDA_AMQP_QUEUE: 'q' }],
      ['IOTDA_AMQP_URL', { IOTDA_AMQP_URL: 'http://broker', IOTDA_AMQP_QUEUE: 'q' }],
      ['IOTDA_AMQP_URL', { IOTDA_AMQP_URL: 'not a url', IOTDA_AMQP_QUEUE: 'q' }],
    ])('stops start-up naming %s for %p', (variable, env) => {
      expect(failure(env).variable).toBe(variable);
    });

    it('never repeats the broker password in its message', () => {
      const error = failure({ IOTDA_AMQP_URL: 'ftp://user:hunter2@broker', IOTDA_AMQP_QUEUE: 'q' });
      expect(error.message).not.toContain('hunter2');
    });
  });

  describe('events sinks (EVENTS_*, WEBHOOK_*)', () => {
    const SECRET = 'a-webhook-secret-0123';

    it('reads each sink with its defaults', () => {
      expect(
        loadConfig({
          EVENTS_AMQP_URL: 'amqp://u:p@rabbit:5672',
          EVENTS_NATS_URL: 'nats://nats:4222',
          WEBHOOK_URL: 'https://receiver.example/hooks',
          WEBHOOK_SECRET: SECRET,
        }).events,
      ).toEqual({
        amqp: { url: 'amqp://u:p@rabbit:5672', exchange: 'command-tracker.events' },
        nats: { url: 'nats://nats:4222', subject: 'commands' },
        webhook: { url: 'https://receiver.example/hooks', secret: SECRET },
        maxLagSeconds: 60,
      });
    });

    it('reads the exchange, the subject, the lag bound and a whsec_ secret', () => {
      const events = loadConfig({
        EVENTS_AMQP_URL: 'amqps://rabbit',
        EVENTS_AMQP_EXCHANGE: 'tracker:events',
        EVENTS_NATS_URL: 'tls://nats:4222',
        EVENTS_NATS_SUBJECT: 'plant-1.commands',
        WEBHOOK_URL: 'http://127.0.0.1:9000',
        WEBHOOK_SECRET: `whsec_${Buffer.alloc(24, 7).toString('base64')}`,
        EVENTS_MAX_LAG_SECONDS: '5',
      }).events;
      expect(events.amqp?.exchange).toBe('tracker:events');
      expect(events.nats?.subject).toBe('plant-1.commands');
      expect(events.maxLagSeconds).toBe(5);
    });

    it.each([
      ['EVENTS_AMQP_URL', { EVENTS_AMQP_URL: 'http://rabbit' }],
      ['EVENTS_AMQP_EXCHANGE', { EVENTS_AMQP_EXCHANGE: 'has space' }],
      ['EVENTS_NATS_URL', { EVENTS_NATS_URL: 'nats-host:4222' }],
      ['EVENTS_NATS_SUBJECT', { EVENTS_NATS_SUBJECT: 'commands.>' }],
      ['EVENTS_NATS_SUBJECT', { EVENTS_NATS_SUBJECT: 'a..b' }],
      ['WEBHOOK_SECRET', { WEBHOOK_URL: 'https://receiver.example' }],
      ['WEBHOOK_URL', { WEBHOOK_SECRET: SECRET }],
      ['WEBHOOK_URL', { WEBHOOK_URL: 'ftp://receiver', WEBHOOK_SECRET: SECRET }],
      ['WEBHOOK_SECRET', { WEBHOOK_URL: 'https://receiver.example', WEBHOOK_SECRET: 'short' }],
      ['WEBHOOK_SECRET', { WEBHOOK_URL: 'https://r.example', WEBHOOK_SECRET: 'whsec_c2hvcnQ=' }],
      ['WEBHOOK_SECRET', { WEBHOOK_URL: 'https://r.example', WEBHOOK_SECRET: 'whsec_!!!!' }],
      ['EVENTS_MAX_LAG_SECONDS', { EVENTS_MAX_LAG_SECONDS: '0' }],
    ])('stops start-up naming %s for %p', (variable, env) => {
      expect(failure(env).variable).toBe(variable);
    });

    it('never repeats a broker password or the webhook secret in its message', () => {
      expect(failure({ EVENTS_AMQP_URL: 'ftp://u:hunter2@rabbit' }).message).not.toContain(
        'hunter2',
      );
      expect(failure({ EVENTS_NATS_URL: 'http://u:hunter2@nats' }).message).not.toContain(
        'hunter2',
      );
      expect(
        failure({ WEBHOOK_URL: 'https://r.example', WEBHOOK_SECRET: 'hunter2' }).message,
      ).not.toContain('hunter2');
    });
  });
});

function belowMin(min: number): string[] {
  return min > 0 ? [String(min - 1)] : [];
}
