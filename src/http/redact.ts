// What must never reach a log line: secrets that requests carry in headers or in the query string.

/** Headers holding a secret: the API key and the callback token. */
export const SECRET_HEADERS = ['authorization', 'x-callback-token', 'cookie'] as const;

/** Query parameters holding a secret: the callback token and the change feed's API key. */
export const SECRET_QUERY_PARAMS = ['token', 'access_token'] as const;

export const REDACTED = '[redacted]';

// One parameter of a query string: its name as written, and its value up to the next one.
const QUERY_PARAM = /([?&])([^=&#]*)(=[^&#]*)?/g;

function isSecretName(written: string): boolean {
  let name = written;
  try {
    // Names are compared as the query parser reads them: %74oken is token.
    name = decodeURIComponent(written.replace(/\+/g, ' '));
  } catch {
    // Not valid percent-encoding: compared as written.
  }
  return (SECRET_QUERY_PARAMS as readonly string[]).includes(name.toLowerCase());
}

/**
 * The path and query of a request URL with the value of every secret parameter replaced, and
 * anything after a `#` replaced whole. A client never sends a fragment on purpose, yet Fastify
 * reads what follows `#` as a query string (`/x#token=...` authenticates), and a token's own value
 * may hold a `#` (`?token=ab#cd` is the token `ab#cd`): no part of it can be shown safely.
 */
export function redactQueryString(url: string): string {
  const hash = url.indexOf('#');
  const beforeHash = hash < 0 ? url : url.slice(0, hash);
  const fragment = hash < 0 ? '' : `#${REDACTED}`;
  if (!beforeHash.includes('?')) {
    return beforeHash + fragment;
  }
  return (
    beforeHash.replace(QUERY_PARAM, (whole, separator: string, name: string, value?: string) =>
      value !== undefined && isSecretName(name) ? `${separator}${name}=${REDACTED}` : whole,
    ) + fragment
  );
}

/**
 * A parsed query object with the value of every secret parameter replaced. When the request URL
 * holds a `#`, the parsed names and values mix query and fragment (a name `x?token`, a value
 * `1#token=...`): the whole query is replaced then.
 */
export function redactQuery(query: unknown, url?: string): unknown {
  if (url?.includes('#')) {
    return REDACTED;
  }
  if (query === null || typeof query !== 'object') {
    return query;
  }
  const copy: Record<string, unknown> = { ...(query as Record<string, unknown>) };
  for (const name of Object.keys(copy)) {
    if ((SECRET_QUERY_PARAMS as readonly string[]).includes(name.toLowerCase())) {
      copy[name] = REDACTED;
    }
  }
  return copy;
}

/** Headers with the value of every secret one replaced (names are lower case, as Node gives them). */
export function redactHeaders(
  headers: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  if (headers === undefined) {
    return undefined;
  }
  const copy = { ...headers };
  for (const name of SECRET_HEADERS) {
    if (name in copy) {
      copy[name] = REDACTED;
    }
  }
  return copy;
}

/** A database URL fit for a log line: the password, if any, replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') {
      parsed.password = '***';
    }
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}
