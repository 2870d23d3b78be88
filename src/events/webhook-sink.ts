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
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;

  constructor(url: string, secret: string) {
    this.key = createSecretKey(webhookKey(secret));
    this.url = new URL(url);
    const secure = this.url.protocol === 'https:';
    const options = { keepAlive: true, maxSockets: CONCURRENCY, maxFreeSockets: CONCURRENCY };
    this.agent = secure ? new https.Agent(options) : new http.Agent(options);
    this.request = secure ? https.request : http.request;
  }

  async deliver(changes: readonly FeedChange[], context: DeliveryContext): Promise<void> {
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
    let next = 0;
    const worker = async () => {
      while (next < queues.length) {
        for (const change of queues[next++]) {
          await this.post(change, context);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queues.length) }, worker));
  }

  connect(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.agent.destroy();
    return Promise.resolve();
  }

  /** Resolves once the receiver answered 2xx; rejects only when the context's signal aborts. */
  private async post(change: FeedChange, { signal, failed }: DeliveryContext): Promise<void> {
    const id = encodePosition(change.position);
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted();
      try {
        const timestamp = Math.floor(Date.now() / 1000);
        const status = await this.send(
          change.data,
          {
            'content-type': 'application/json',
            ...signatureHeaders(this.key, id, timestamp, change.data),
          },
          signal,
        );
        if (status >= 200 && status < 300) {
          return;
        }
        failed(new Error(`the receiver answered ${status}`));
      } catch (error) {
        signal.throwIfAborted();
        failed(error);
      }
      await pause(backoffMs(attempt, RETRY_BASE_MS, RETRY_MAX_MS), signal);
    }
  }

  /**
   * One POST of `body`: the answer's status once its body was read (so that the connection is
   * reused), or a rejection when there is none within TIMEOUT_MS or `signal` aborts. Redirects are
   * not followed (a 3xx is not a 2xx).
   */
  private send(
    body: string,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<number> {
    return new Promise((resolve, reject) => {
      const request = this.request(this.url, { method: 'POST', headers, agent: this.agent });
      const abort = () => request.destroy(new Error('stopped'));
      const timer = setTimeout(
        () => request.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)),
        TIMEOUT_MS,
      );
      const settle = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', abort);
      };
      signal.addEventListener('abort', abort, { once: true });
      request.on('error', (error) => {
        settle();
        reject(error);
      });
      request.on('response', (response) => {
        response.on('error', (error) => {
          settle();
          reject(error);
        });
        response.on('end', () => {
          settle();
          resolve(response.statusCode ?? 0);
        });
        response.resume();
      });
      request.end(body);
    });
  }
}
