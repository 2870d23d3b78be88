// Reading one environment variable: each reader checks the value and, when it is wrong, stops
// start-up with a ConfigError naming the variable (never repeating a secret's value).

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Shortest secret accepted in production: guessable ones are refused. */
export const MIN_SECRET_LENGTH = 16;

/** An http(s) URL without a trailing slash. */
export function httpUrl(env: Env, name: string): string {
  const raw = optionalString(env, name);
  let url: URL | undefined;
  try {
    url = raw === undefined ? undefined : new URL(raw.trim());
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ConfigError(name, `must be an http:// or https:// URL`);
  }
  return url.toString().replace(/\/+$/, '');
}

/** A broker URL with a host; the message never repeats it, since it may hold a password. */
export function brokerUrl(name: string, raw: string, protocols: readonly string[]): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(raw.trim());
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !protocols.includes(parsed.protocol) || !parsed.hostname) {
    const schemes = protocols.map((protocol) => `${protocol}//`).join(' or ');
    throw new ConfigError(name, `must be an ${schemes} URL with a host`);
  }
  return raw.trim();
}

export function optionalString(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value;
}

export function integer(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = optionalString(env, name);
  if (raw === undefined) {
    return fallback;
  }
  if (!/^\d+$/.test(raw.trim())) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  const value = Number(raw.trim());
  if (value < min || value > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

export function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = optionalString(env, name)?.trim().toLowerCase();
  if (raw === undefined) {
    return fallback;
  }
  if (raw === 'true' || raw === '1') {
    return true;
  }
  if (raw === 'false' || raw === '0') {
    return false;
  }
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

export function oneOf<T extends string>(
  env: Env,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const raw = optionalString(env, name)?.trim();
  if (raw === undefined) {
    return fallback;
  }
  const found = allowed.find((value) => value === raw);
  if (found === undefined) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return found;
}
