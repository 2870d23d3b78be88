import { type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection, connect } from '@nats-io/transport-node';
import { type FeedChange } from '../feed/feed-change.js';
import { encodePosition } from '../feed/feed-position.js';
import { type DeliveryContext, type EventSink, unlessAborted } from './event-sink.js';

const CONNECT_TIMEOUT_MS = 5_000;
const ACK_TIMEOUT_MS = 10_000;

/** The stream created for `subject` when none captures it: its name in capitals. */
export function streamName(subject: string): string {
  return subject.replace(/[^A-Za-z0-9_-]/g, '_').toUpperCase();
}

/**
 * Publishes to NATS JetStream, subject `<subject>.<status>`, header Nats-Msg-Id = feed position
 * (JetStream drops a repeat within the stream's duplicate window); a batch counts as delivered once
 * the stream acknowledged all of it. The publishes of a batch are pipelined on one connection,
 * which the server stores in order.
 */
export class NatsSink implements EventSink {
  readonly name = 'nats';
  private connection: NatsConnection | undefined;
  private client: JetStreamClient | undefined;

  constructor(
    private readonly url: string,
    private readonly subject: string,
  ) {}

  async deliver(changes: readonly FeedChange[], context: DeliveryContext): Promise<void> {
    const client = await this.open();
    context.signal.throwIfAborted();
    const acks = await unlessAborted(
      Promise.allSettled(
        changes.map((change) =>
          client.publish(`${this.subject}.${change.status}`, change.data, {
            msgID: encodePosition(change.position),
            timeout: ACK_TIMEOUT_MS,
          }),
        ),
      ),
      context.signal,
    );
    const failure = acks.find((ack) => ack.status === 'rejected');
    if (failure !== undefined) {
      throw failure.reason;
    }
  }

  async connect(): Promise<void> {
    await this.open();
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    this.client = undefined;
    await connection?.close().catch(() => undefined);
  }

  private async open(): Promise<JetStreamClient> {
    if (this.client !== undefined) {
      return this.client;
    }
    // The client reconnects by itself; publishes meanwhile fail by their ack timeout.
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
      this.connection = connection;
      this.client = jetstream(connection, { timeout: ACK_TIMEOUT_MS });
      void connection.closed().then(() => {
        if (this.connection === connection) {
          this.connection = undefined;
          this.client = undefined;
        }
      });
      return this.client;
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
  }
}
