import { ConfigError, LOG_LEVELS, loadConfig } from './config.js';

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
      groupCommit: true,
      production: false,
      platform: undefined,
      platformTimeoutMs: 10000,
      reconcileIntervalSeconds: 60,
      reconcileAfterSeconds: 600,
      reconcileRate: 10,
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
      CALLBACK_TOKEN: 'callback-token',
      API_KEYS: ' key-1, key-2 ,,',
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
      callbackToken: 'callback-token',
      apiKeys: ['key-1', 'key-2'],
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
    it('refuses to start with neither CALLBACK_TOKEN nor API_KEYS, naming both and AUTH_DISABLED', () => {
      const error = failure({ NODE_ENV: 'production' });
      expect(error.variable).toBe('CALLBACK_TOKEN');
      expect(error.message).toContain('API_KEYS');
      expect(error.message).toContain('AUTH_DISABLED=true');
    });

    it('counts an API_KEYS of only commas and spaces as unset', () => {
      expect(failure({ NODE_ENV: 'production', API_KEYS: ' , ,' }).variable).toBe('CALLBACK_TOKEN');
    });

    it.each([[{ CALLBACK_TOKEN: 'token' }], [{ API_KEYS: 'key' }], [{ AUTH_DISABLED: 'true' }]])(
      'starts with %p',
      (env) => {
        expect(loadConfig({ NODE_ENV: 'production', ...env }).production).toBe(true);
      },
    );

    it('starts without authentication outside production', () => {
      expect(loadConfig({ NODE_ENV: 'development' })).toMatchObject({
        production: false,
        callbackToken: undefined,
        apiKeys: [],
      });
    });
  });
});

function belowMin(min: number): string[] {
  return min > 0 ? [String(min - 1)] : [];
}
