import { createHmac } from 'node:crypto';
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

/** The Standard Webhooks headers of `body` sent as message `id` at `timestamp` (seconds). */
export function signatureHeaders(
  key: Buffer,
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
 * different commands' concurrently.
 */
export class WebhookSink implements EventSink {
  readonly name = 'webhook';
  private readonly key: Buffer;

  constructor(
    private readonly url: string,
    secret: string,
  ) {
    this.key = webhookKey(secret);
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
    return Promise.resolve();
  }

  /** Resolves once the receiver answered 2xx; rejects only when the context's signal aborts. */
  private async post(change: FeedChange, { signal, failed }: DeliveryContext): Promise<void> {
    const id = encodePosition(change.position);
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted();
      try {
        const timestamp = Math.floor(Date.now() / 1000);
        const response = await fetch(this.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...signatureHeaders(this.key, id, timestamp, change.data),
          },
          body: change.data,
          redirect: 'manual',
          signal: AbortSignal.any([signal, AbortSignal.timeout(TIMEOUT_MS)]),
        });
        // Read to the end, so that the connection is reused.
        await response.arrayBuffer();
        if (response.ok) {
          return;
        }
        failed(new Error(`the receiver answered ${response.status}`));
      } catch (error) {
        signal.throwIfAborted();
        failed(error);
      }
      await pause(backoffMs(attempt, RETRY_BASE_MS, RETRY_MAX_MS), signal);
    }
  }
}
