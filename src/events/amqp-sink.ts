import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { type FeedChange } from '../feed/feed-change.js';
import { encodePosition } from '../feed/feed-position.js';
import { type DeliveryContext, type EventSink, unlessAborted } from './event-sink.js';

const CONNECT_TIMEOUT_MS = 5_000;
// A broker that neither confirms nor closes within this (a hung link) gets a new connection.
const CONFIRM_TIMEOUT_MS = 15_000;

/**
 * Publishes to a durable topic exchange of an AMQP 0-9-1 broker (RabbitMQ), routing key
 * `command.<status>`, persistent, with publisher confirms; a batch counts as delivered once the
 * broker confirmed all of it. One channel keeps the messages in feed order.
 */
export class AmqpSink implements EventSink {
  readonly name = 'amqp';
  private connection: ChannelModel | undefined;
  private channel: ConfirmChannel | undefined;

  constructor(
    private readonly url: string,
    private readonly exchange: string,
  ) {}

  async deliver(changes: readonly FeedChange[], context: DeliveryContext): Promise<void> {
    const channel = await this.open();
    for (const change of changes) {
      // The channel buffers what the socket cannot take yet; a batch is bounded, so it is not
      // waited on here.
      channel.publish(this.exchange, `command.${change.status}`, Buffer.from(change.data), {
        persistent: true,
        messageId: encodePosition(change.position),
        contentType: 'application/json',
        type: 'command-status',
        timestamp: Math.floor(change.receivedAtMs / 1000),
      });
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no publisher confirms within ${CONFIRM_TIMEOUT_MS} ms`)),
        CONFIRM_TIMEOUT_MS,
      );
    });
    try {
      await unlessAborted(Promise.race([channel.waitForConfirms(), timedOut]), context.signal);
    } catch (error) {
      await this.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async connect(): Promise<void> {
    await this.open();
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    this.channel = undefined;
    await connection?.close().catch(() => undefined);
  }

  private async open(): Promise<ConfirmChannel> {
    if (this.channel !== undefined) {
      return this.channel;
    }
    const connection = await amqp.connect(this.url, {
      timeout: CONNECT_TIMEOUT_MS,
      clientProperties: { connection_name: 'command-tracker events' },
    });
    // Errors surface as failed confirms; without listeners they would be thrown by the emitter.
    connection.on('error', () => undefined);
    connection.on('close', () => {
      if (this.connection === connection) {
        this.connection = undefined;
        this.channel = undefined;
      }
    });
    this.connection = connection;
    try {
      const channel = await connection.createConfirmChannel();
      channel.on('error', () => undefined);
      channel.on('close', () => {
        if (this.channel === channel) {
          void this.close();
        }
      });
      await channel.assertExchange(this.exchange, 'topic', { durable: true });
      this.channel = channel;
      return channel;
    } catch (error) {
      await this.close();
      throw error;
    }
  }
}
