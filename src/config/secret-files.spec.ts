import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SECRETS_FROM_FILES, loadConfig } from './config.js';
import { ConfigError } from './env-values.js';

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

describe('loadConfig: secrets from files (<NAME>_FILE)', () => {
  let dir: string;
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'config-secrets-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads each secret from its file, without the trailing newline', () => {
    const token = 'a'.repeat(32);
    const config = loadConfig({
      NODE_ENV: 'production',
      CALLBACK_TOKEN_FILE: file('token', `${token}\n`),
      API_KEYS_FILE: file('keys', `${'b'.repeat(20)},${'c'.repeat(20)}\r\n`),
      DATABASE_URL_FILE: file('url', 'postgres://tracker:p%40ss@db:5432/tracker\n'),
      IOTDA_AMQP_URL_FILE: file('amqp', 'amqps://user:secret@broker:5671'),
      IOTDA_AMQP_QUEUE: 'q',
      PLATFORM: 'iotda',
      IOTDA_ENDPOINT: 'https://iotda.example.com',
      IOTDA_PROJECT_ID: 'p',
      IOTDA_AK_FILE: file('ak', 'access\n'),
      IOTDA_SK_FILE: file('sk', 'secret\n'),
    });
    expect(config.callbackToken).toBe(token);
    expect(config.apiKeys).toEqual(['b'.repeat(20), 'c'.repeat(20)]);
    expect(config.databaseUrl).toBe('postgres://tracker:p%40ss@db:5432/tracker');
    expect(config.iotdaAmqp?.url).toBe('amqps://user:secret@broker:5671');
    expect(config.platform).toMatchObject({ accessKey: 'access', secretKey: 'secret' });
  });

  it('reads OC_SECRET from its file', () => {
    const config = loadConfig({
      PLATFORM: 'oceanconnect',
      OC_BASE_URL: 'https://oc.example.com:8743',
      OC_APP_ID: 'app',
      OC_SECRET_FILE: file('oc', 'oc-secret\n'),
    });
    expect(config.platform).toMatchObject({ secret: 'oc-secret' });
  });

  it('checks a secret read from a file as one set directly', () => {
    const error = failure({
      NODE_ENV: 'production',
      CALLBACK_TOKEN_FILE: file('short', 'short\n'),
      API_KEYS: 'k'.repeat(20),
    });
    expect(error.message).toMatch(/^Invalid configuration: CALLBACK_TOKEN must be at least 16/);
  });

  it.each(SECRETS_FROM_FILES)('refuses %s together with its _FILE', (name) => {
    const error = failure({ [name]: 'x', [`${name}_FILE`]: file(`both-${name}`, 'y') });
    expect(error.message).toBe(
      `Invalid configuration: ${name}_FILE and ${name} are both set: set one of them`,
    );
  });

  it('names the variable of a file that cannot be read, and nothing of its content', () => {
    const error = failure({ CALLBACK_TOKEN_FILE: join(dir, 'missing') });
    expect(error.message).toBe(
      'Invalid configuration: CALLBACK_TOKEN_FILE names a file that cannot be read (ENOENT)',
    );
  });

  it('leaves other variables ending in _FILE alone (OC_CERT_FILE is a path)', () => {
    const config = loadConfig({
      PLATFORM: 'oceanconnect',
      OC_BASE_URL: 'https://oc.example.com:8743',
      OC_APP_ID: 'app',
      OC_SECRET: 'oc-secret',
      OC_CERT_FILE: '/run/secrets/client.pem',
    });
    expect(config.platform).toMatchObject({ certFile: '/run/secrets/client.pem' });
  });
});
