import { jetstreamManager } from '@nats-io/jetstream';
import {
  type Msg,
  type NatsConnection,
  connect,
  createInbox,
  headers,
} from '@nats-io/transport-node';
import { type FeedChange } from '../feed/feed-change.js';
import { encodePosition } from '../feed/feed-position.js';
import { type DeliveryContext, type EventSink, unlessAborted } from './event-sink.js';

const CONNECT_TIMEOUT_MS = 5_000;
const ACK_TIMEOUT_MS = 10_000;

/** The stream created for `subject` when none captures it: its name in capitals. */
export function streamName(subject: string): string {
  return subject.replace(/[^A-Za-z0-9_-]/g, '_').toUpperCase();
}

/** The acknowledgements a batch still waits for. */
interface PendingBatch {
  readonly reply: string;
  remaining: number;
  settle(error?: Error): void;
}

/**
 * Publishes to NATS JetStream, subject `<subject>.<status>`, header Nats-Msg-Id = feed position
 * (JetStream drops a repeat within the stream's duplicate window); a batch counts as delivered once
 * the stream acknowledged all of it. The publishes of a batch are pipelined on one connection,
 * which the server stores in order, each with the batch's reply subject: the acknowledgements
 * arrive on one subscription of the sink's own and are counted, one timer per batch. (The client's
 * JetStream publish() is a request per message, with a timer, an inbox entry and two pre-built
 * errors each: several times the CPU, most of it spent by the garbage collector.)
 */
export class NatsSink implements EventSink {
  readonly name = 'nats';
  private connection: NatsConnection | undefined;
  private inbox = '';
  private pending: PendingBatch | undefined;
  private batches = 0;

  constructor(
    private readonly url: string,
    private readonly subject: string,
  ) {}

  async deliver(changes: readonly FeedChange[], context: DeliveryContext): Promise<void> {
    const connection = await this.open();
    context.signal.throwIfAborted();
    const reply = `${this.inbox}.${++this.batches}`;
    let timer: NodeJS.Timeout | undefined;
    const acknowledged = new Promise<void>((resolve, reject) => {
      this.pending = {
        reply,
        remaining: changes.length,
        settle: (error) => (error === undefined ? resolve() : reject(error)),
      };
      timer = setTimeout(
        () => reject(new Error(`no acknowledgement from JetStream within ${ACK_TIMEOUT_MS} ms`)),
        ACK_TIMEOUT_MS,
      );
    });
    try {
      for (const change of changes) {
        const header = headers();
        header.set('Nats-Msg-Id', encodePosition(change.position));
        connection.publish(`${this.subject}.${change.status}`, change.data, {
          reply,
          headers: header,
        });
      }
      await unlessAborted(acknowledged, context.signal);
    } finally {
      clearTimeout(timer);
      this.pending = undefined;
    }
  }

  async connect(): Promise<void> {
    await this.open();
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    this.pending?.settle(new Error('the connection closed'));
    await connection?.close().catch(() => undefined);
  }

  /** An acknowledgement (or an error) of one message of the pending batch, if it is still pending. */
  private acknowledge(message: Msg): void {
    const batch = this.pending;
    if (batch === undefined || message.subject !== batch.reply) {
      return;
    }
    // A stream stores it: {"stream":...,"seq":...}; otherwise {"error":...}, or an empty status
    // message (503) when no stream captures the subject.
    const answer =
      message.data.length === 0
        ? undefined
        : (JSON.parse(message.string()) as { stream?: string; error?: { description?: string } });
    if (answer?.stream === undefined || answer.error !== undefined) {
      this.pending = undefined;
      const reason = answer?.error?.description ?? `status ${message.headers?.code ?? 'unknown'}`;
      batch.settle(new Error(`JetStream refused a message: ${reason}`));
      return;
    }
    if (--batch.remaining === 0) {
      this.pending = undefined;
      batch.settle();
    }
  }

  private async open(): Promise<NatsConnection> {
    if (this.connection !== undefined) {
      return this.connection;
    }
    // The client reconnects by itself; a batch meanwhile fails by its ack timeout.
    const connection = await connect({
      servers: this.url,
      name: 'command-tracker events',
      timeout: CONNECT_TIMEOUT_MS,
      maxReconnectAttempts: -1,
    });
    try {
      const manager = await jetstreamManager(connection, { timeout: ACK_TIMEOUT_MS });
      const subjects = `${this.subject}.>`;
      try {
        await manager.streams.find(subjects);
      } catch {
        await manager.streams.add({ name: streamName(this.subject), subjects: [subjects] });
      }
      this.inbox = createInbox();
      connection.subscribe(`${this.inbox}.*`, {
        callback: (error, message) => {
          if (error === null) {
            this.acknowledge(message);
          }
        },
      });
      this.connection = connection;
      void connection.closed().then(() => {
        if (this.connection === connection) {
          void this.close();
        }
      });
      return connection;
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
  }
}
