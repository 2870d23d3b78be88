import { type KeyObject, createHmac, createSecretKey } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { type FeedChange } from '../feed/feed-change.js';
import { encodePosition } from '../feed/feed-position.js';
import { type DeliveryContext, type EventSink, backoffMs, pause } from './event-sink.js';

const TIMEOUT_MS = 10_000;
const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 60_000;
// Commands whose changes are POSTed at once; each command's changes go one after another.
const CONCURRENCY = 8;
// How often the calls of a batch are checked against TIMEOUT_MS (one timer per batch, not per call).
const TIMEOUT_CHECK_MS = 500;

/** The calls of one batch in flight, ended together when the batch is given up. */
interface InFlight {
  readonly calls: Map<http.ClientRequest, number>;
  readonly signal: AbortSignal;
  readonly failed: (error: unknown) => void;
}

/**
 * The HMAC key of a Standard Webhooks secret: `whsec_` and base64 is decoded, as the spec's
 * libraries do; any other secret is used as its bytes (the libraries' raw format).
 */
export function webhookKey(secret: string): Buffer {
  const trimmed = secret.trim();
  return trimmed.startsWith('whsec_')
    ? Buffer.from(trimmed.slice('whsec_'.length), 'base64')
    : Buffer.from(secret, 'utf8');
}

/**
 * The Standard Webhooks headers of `body` sent as message `id` at `timestamp` (seconds). A
 * KeyObject key (createSecretKey, once) signs about 6 times faster than a Buffer, which
 * createHmac checks for a KeyObject by a throw and catch on every call.
 */
export function signatureHeaders(
  key: Buffer | KeyObject,
  id: string,
  timestamp: number,
  body: string,
): Record<string, string> {
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': `v1,${signature}`,
  };
}

/**
 * POSTs each change to WEBHOOK_URL, signed as Standard Webhooks does, with the feed position as
 * `webhook-id`. A call that is not answered 2xx within TIMEOUT_MS is repeated with backoff (signed
 * anew, since receivers refuse old timestamps) until it is; a command's changes go in feed order,
 * different commands' concurrently. Calls go through node:http on keep-alive connections (up to
 * CONCURRENCY): fetch() costs several times the CPU per call (web streams, an AbortSignal per call).
 */
export class WebhookSink implements EventSink {
  readonly name = 'webhook';
  private readonly key: KeyObject;
  private readonly request: typeof http.request;
  private readonly options: http.RequestOptions;
  private readonly agent: http.Agent;

  constructor(url: string, secret: string) {
    this.key = createSecretKey(webhookKey(secret));
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: CONCURRENCY, maxFreeSockets: CONCURRENCY };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.request = secure ? https.request : http.request;
    // Parsed once: a URL given to request() is turned into these options on every call.
    this.options = {
      method: 'POST',
      protocol: target.protocol,
      hostname: target.hostname.replace(/^\[|\]$/g, ''),
      port: target.port === '' ? undefined : Number(target.port),
      path: `${target.pathname}${target.search}`,
      auth:
        target.username === ''
          ? undefined
          : `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`,
      agent: this.agent,
    };
  }

  async deliver(
    changes: readonly FeedChange[],
    { signal, failed }: DeliveryContext,
  ): Promise<void> {
    const byCommand = new Map<string, FeedChange[]>();
    for (const change of changes) {
      const queue = byCommand.get(change.commandId);
      if (queue === undefined) {
        byCommand.set(change.commandId, [change]);
      } else {
        queue.push(change);
      }
    }
    const queues = [...byCommand.values()];
    const inFlight: InFlight = { calls: new Map(), signal, failed };
    const abort = () => {
      for (const request of inFlight.calls.keys()) {
        request.destroy(new Error('stopped'));
      }
    };
    const overdue = setInterval(() => {
      const now = Date.now();
      for (const [request, startedAt] of inFlight.calls) {
        if (now - startedAt >= TIMEOUT_MS) {
          request.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`));
        }
      }
    }, TIMEOUT_CHECK_MS);
    signal.addEventListener('abort', abort, { once: true });
    let next = 0;
    const worker = async () => {
      while (next < queues.length) {
        for (const change of queues[next++]) {
          await this.post(change, inFlight);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queues.length) }, worker));
    } finally {
      clearInterval(overdue);
      signal.removeEventListener('abort', abort);
    }
  }

  connect(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.agent.destroy();
    return Promise.resolve();
  }

  /** Resolves once the receiver answered 2xx; rejects only when the batch's signal aborts. */
  private async post(change: FeedChange, inFlight: InFlight): Promise<void> {
    const id = encodePosition(change.position);
    for (let attempt = 0; ; attempt++) {
      inFlight.signal.throwIfAborted();
      try {
        const timestamp = Math.floor(Date.now() / 1000);
        const status = await this.send(
          change.data,
          {
            'content-type': 'application/json',
            ...signatureHeaders(this.key, id, timestamp, change.data),
          },
          inFlight,
        );
        if (status >= 200 && status < 300) {
          return;
        }
        inFlight.failed(new Error(`the receiver answered ${status}`));
      } catch (error) {
        inFlight.signal.throwIfAborted();
        inFlight.failed(error);
      }
      await pause(backoffMs(attempt, RETRY_BASE_MS, RETRY_MAX_MS), inFlight.signal);
    }
  }

  /**
   * One POST of `body`: the answer's status once its body was read (so that the connection is
   * reused), or a rejection when the batch's timer finds it unanswered after TIMEOUT_MS or the
   * batch is given up. Redirects are not followed (a 3xx is not a 2xx).
   */
  private send(body: string, headers: Record<string, string>, inFlight: InFlight): Promise<number> {
    return new Promise((resolve, reject) => {
      const request = this.request({ ...this.options, headers });
      inFlight.calls.set(request, Date.now());
      request.on('error', (error) => {
        inFlight.calls.delete(request);
        reject(error);
      });
      request.on('response', (response) => {
        response.on('error', (error) => {
          inFlight.calls.delete(request);
          reject(error);
        });
        response.on('end', () => {
          inFlight.calls.delete(request);
          resolve(response.statusCode ?? 0);
        });
        response.resume();
      });
      request.end(body);
    });
  }
}
