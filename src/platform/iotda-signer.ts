import { createHash, createHmac, hkdfSync } from 'node:crypto';

// Huawei Cloud's API request signing, as its SDKs do it (huaweicloud-sdk-*-v3, core signer):
// SDK-HMAC-SHA256 signs with the secret key itself; V11-HMAC-SHA256 (the "derived" signing that
// IoTDA standard and enterprise instances need) signs with a key derived by HKDF-SHA256 from the
// key pair and the scope `date/region/service`.

export interface SigningKeys {
  accessKey: string;
  secretKey: string;
  /** Set: V11-HMAC-SHA256 scoped to this region; unset: SDK-HMAC-SHA256. */
  region?: string;
  /** The service name in the derived scope (IoTDA: `iotda`). */
  service?: string;
}

export interface RequestToSign {
  method: string;
  url: URL;
  /** The path as sent, when it is not url's own (a URL resolves `.` and `..` segments). */
  path?: string;
  /** Headers to sign besides Host and X-Sdk-Date (names in any case). */
  headers: Record<string, string>;
  body: string;
}

/** `yyyyMMdd'T'HHmmss'Z'`, the X-Sdk-Date format. */
export function sdkDate(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/**
 * The headers to send: the given ones plus Host, X-Sdk-Date and Authorization. `at` is the
 * signing time (X-Sdk-Date), unless the headers already carry X-Sdk-Date.
 */
export function signRequest(
  keys: SigningKeys,
  request: RequestToSign,
  at: Date = new Date(),
): Record<string, string> {
  const headers: Record<string, string> = { ...request.headers };
  const dateName = Object.keys(headers).find((name) => name.toLowerCase() === 'x-sdk-date');
  const date = dateName === undefined ? sdkDate(at) : headers[dateName];
  if (dateName === undefined) {
    headers['X-Sdk-Date'] = date;
  }
  if (!Object.keys(headers).some((name) => name.toLowerCase() === 'host')) {
    headers.Host = request.url.host;
  }
  // The SDKs leave headers with an underscore in their name unsigned.
  const signed = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    if (!name.includes('_')) {
      signed.set(name.toLowerCase(), value.trim());
    }
  }
  const signedNames = [...signed.keys()].sort();
  const canonicalRequest = [
    request.method.toUpperCase(),
    canonicalPath(request.path ?? request.url.pathname),
    canonicalQuery(request.url.searchParams),
    signedNames.map((name) => `${name}:${signed.get(name)}\n`).join(''),
    signedNames.join(';'),
    sha256Hex(request.body),
  ].join('\n');
  const hashed = sha256Hex(canonicalRequest);
  let authorization: string;
  if (keys.region === undefined) {
    const signature = hmacHex(keys.secretKey, `SDK-HMAC-SHA256\n${date}\n${hashed}`);
    authorization = `SDK-HMAC-SHA256 Access=${keys.accessKey}, SignedHeaders=${signedNames.join(';')}, Signature=${signature}`;
  } else {
    const scope = `${date.slice(0, 8)}/${keys.region}/${keys.service ?? 'iotda'}`;
    const derived = Buffer.from(
      hkdfSync('sha256', keys.secretKey, keys.accessKey, scope, 32),
    ).toString('hex');
    const signature = hmacHex(derived, `V11-HMAC-SHA256\n${date}\n${scope}\n${hashed}`);
    authorization = `V11-HMAC-SHA256 Credential=${keys.accessKey}/${scope}, SignedHeaders=${signedNames.join(';')}, Signature=${signature}`;
  }
  headers.Authorization = authorization;
  return headers;
}

/** Each path segment percent-encoded (RFC 3986 unreserved kept), with a trailing slash. */
function canonicalPath(pathname: string): string {
  const path = pathname
    .split('/')
    .map((segment) => encode(decodeURIComponent(segment)))
    .join('/');
  return path.endsWith('/') ? path : `${path}/`;
}

function canonicalQuery(params: URLSearchParams): string {
  return [...params.entries()]
    .map(([key, value]) => [encode(key), encode(value)] as const)
    .sort(([a, av], [b, bv]) => (a === b ? compare(av, bv) : compare(a, b)))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Python's quote(s, safe='~'): everything but letters, digits and `_.-~` is percent-encoded.
function encode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

function hmacHex(key: string, data: string): string {
  return createHmac('sha256', key).update(data, 'utf8').digest('hex');
}
