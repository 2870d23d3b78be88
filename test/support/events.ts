import { randomBytes } from 'node:crypto';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection, connect as natsConnect } from '@nats-io/transport-node';
import amqp, { type ChannelModel } from 'amqplib';
import { Webhook } from 'standardwebhooks';
import { type EventsConfig } from '../../src/config/events-config.js';
import { eventually } from './eventually.js';
import { streamName } from '../../src/events/nats-sink.js';
import { comparePositions, decodePosition } from '../../src/feed/feed-position.js';

/** The machine's RabbitMQ (AMQP 0-9-1) and NATS with JetStream. */
export const EVENTS_AMQP_URL =
  process.env.TEST_EVENTS_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const EVENTS_NATS_URL = process.env.TEST_EVENTS_NATS_URL ?? 'nats://127.0.0.1:4222';

/** A change as a sink received it: its id (the feed position) and the feed event's data. */
export interface Received {
  id: string;
  data: {
    commandId: string;
    deviceId: string;
    status: string;
    previousStatus: string | null;
    version: number;
    historyId: string;
  };
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/**
 * Checks what a sink received against the applied changes (by history id, in feed order): every
 * one arrived, repeats carry the same id and data, and with the repeats removed the ids only
 * increase (feed order) or, with `perCommand`, each command's versions only increase.
 */
export function checkDelivery(
  received: readonly Received[],
  applied: readonly { historyId: string }[],
  order: 'feed' | 'perCommand',
): { unique: Received[]; repeats: number } {
  const byId = new Map<string, Received>();
  const unique: Received[] = [];
  for (const message of received) {
    const seen = byId.get(message.id);
    if (seen === undefined) {
      byId.set(message.id, message);
      unique.push(message);
    } else {
      expect(message.data).toEqual(seen.data);
    }
  }
  expect(unique.map((message) => message.data.historyId).sort()).toEqual(
    applied.map((change) => change.historyId).sort(),
  );
  for (const message of unique) {
    expect(message.id.endsWith(`-${message.data.historyId}`)).toBe(true);
  }
  if (order === 'feed') {
    // A repeat resends from a stored position onward: skipping repeats, the ids rise.
    const positions = unique.map((message) => decodePosition(message.id)!);
    for (let i = 1; i < positions.length; i++) {
      expect(comparePositions(positions[i - 1], positions[i])).toBeLessThan(0);
    }
  }
  const versions = new Map<string, number>();
  for (const message of unique) {
    const last = versions.get(message.data.commandId) ?? 0;
    expect(message.data.version).toBeGreaterThan(last);
    versions.set(message.data.commandId, message.data.version);
  }
  return { unique, repeats: received.length - unique.length };
}

/** A queue bound to the exchange (all routing keys) that records what arrives, in order. */
export class RabbitTap {
  readonly received: (Received & { routingKey: string; persistent: boolean })[] = [];

  private constructor(
    private readonly connection: ChannelModel,
    readonly exchange: string,
  ) {}

  static async open(exchange: string): Promise<RabbitTap> {
    const connection = await amqp.connect(EVENTS_AMQP_URL);
    const tap = new RabbitTap(connection, exchange);
    const channel = await connection.createChannel();
    await channel.assertExchange(exchange, 'topic', { durable: true });
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, exchange, 'command.#');
    await channel.consume(
      queue,
      (message) => {
        if (message !== null) {
          tap.received.push({
            id: String(message.properties.messageId),
            data: JSON.parse(message.content.toString()) as Received['data'],
            routingKey: message.fields.routingKey,
            persistent: message.properties.deliveryMode === 2,
          });
        }
      },
      { noAck: true },
    );
    return tap;
  }

  async close(): Promise<void> {
    const channel = await this.connection.createChannel();
    await channel.deleteExchange(this.exchange);
    await this.connection.close();
  }
}

/** Reads the stream that captures `<subject>.>` from its start, in order. */
export class NatsTap {
  readonly received: (Received & { subject: string })[] = [];
  private stopped = false;

  private constructor(
    private readonly connection: NatsConnection,
    readonly subject: string,
  ) {}

  static async open(subject: string): Promise<NatsTap> {
    const connection = await natsConnect({ servers: EVENTS_NATS_URL });
    return new NatsTap(connection, subject);
  }

  /** Waits until the service created the stream, then reads it from its start. */
  async consume(): Promise<void> {
    await eventually(
      () => this.streamExists(),
      30_000,
      () => 'the service creating the stream',
    );
    const consumer = await jetstream(this.connection).consumers.get(streamName(this.subject));
    const messages = await consumer.consume();
    void (async () => {
      for await (const message of messages as AsyncIterable<JsMsg>) {
        if (this.stopped) {
          break;
        }
        this.received.push({
          id: message.headers?.get('Nats-Msg-Id') ?? '',
          data: message.json<Received['data']>(),
          subject: message.subject,
        });
      }
    })();
  }

  async streamExists(): Promise<boolean> {
    const manager = await jetstreamManager(this.connection);
    try {
      await manager.streams.info(streamName(this.subject));
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    const manager = await jetstreamManager(this.connection);
    await manager.streams.delete(streamName(this.subject)).catch(() => false);
    await this.connection.close();
  }
}

export type ReceiverMode = 'accept' | 'fail' | 'hang';

/** A webhook receiver on 127.0.0.1 that verifies each signature with the Standard Webhooks library. */
export class WebhookReceiver {
  /** Deliveries it answered 2xx, in arrival order. */
  readonly received: Received[] = [];
  /** Every call, answered or not. */
  calls = 0;
  badSignatures = 0;
  mode: ReceiverMode = 'accept';
  readonly secret = `whsec_${randomBytes(24).toString('base64')}`;
  private readonly verifier = new Webhook(this.secret);

  private constructor(private readonly server: Server) {}

  static async start(): Promise<WebhookReceiver> {
    const server = createServer();
    const receiver = new WebhookReceiver(server);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        receiver.calls++;
        if (receiver.mode === 'hang') {
          return;
        }
        if (receiver.mode === 'fail') {
          response.writeHead(500).end();
          return;
        }
        const body = Buffer.concat(chunks).toString();
        try {
          receiver.verifier.verify(body, headers(request.headers));
        } catch {
          receiver.badSignatures++;
          response.writeHead(400).end();
          return;
        }
        receiver.received.push({
          id: String(request.headers['webhook-id']),
          data: JSON.parse(body) as Received['data'],
        });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function headers(incoming: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(incoming).map(([name, value]) => [name, String(value)]));
}

export interface Sinks {
  rabbit: RabbitTap;
  nats: NatsTap;
  receiver: WebhookReceiver;
  close(): Promise<void>;
}

export async function openSinks(): Promise<Sinks> {
  const rabbit = await RabbitTap.open(uniqueName('ct-events'));
  const nats = await NatsTap.open(uniqueName('ct_events'));
  const receiver = await WebhookReceiver.start();
  return {
    rabbit,
    nats,
    receiver,
    close: async () => {
      await Promise.all([rabbit.close(), nats.close(), receiver.close()]);
    },
  };
}

export function eventsConfig(
  sinks: Sinks,
  urls: { amqp?: string; nats?: string } = {},
): EventsConfig {
  return {
    amqp: { url: urls.amqp ?? EVENTS_AMQP_URL, exchange: sinks.rabbit.exchange },
    nats: { url: urls.nats ?? EVENTS_NATS_URL, subject: sinks.nats.subject },
    webhook: { url: sinks.receiver.url, secret: sinks.receiver.secret },
    maxLagSeconds: 60,
  };
}

export async function allDelivered(sinks: Sinks, count: number, withinMs = 40_000): Promise<void> {
  const unique = (list: { id: string }[]) => new Set(list.map((message) => message.id)).size;
  await eventually(
    () =>
      unique(sinks.rabbit.received) >= count &&
      unique(sinks.nats.received) >= count &&
      unique(sinks.receiver.received) >= count,
    withinMs,
    () =>
      `delivered amqp ${unique(sinks.rabbit.received)}, nats ${unique(sinks.nats.received)}, webhook ${unique(sinks.receiver.received)} of ${count}`,
  );
}

export function checkAll(sinks: Sinks, applied: { historyId: string }[]): void {
  checkDelivery(sinks.rabbit.received, applied, 'feed');
  checkDelivery(sinks.nats.received, applied, 'feed');
  checkDelivery(sinks.receiver.received, applied, 'perCommand');
  for (const message of sinks.rabbit.received) {
    expect(message.routingKey).toBe(`command.${message.data.status}`);
    expect(message.persistent).toBe(true);
  }
  for (const message of sinks.nats.received) {
    expect(message.subject).toBe(`${sinks.nats.subject}.${message.data.status}`);
  }
  expect(sinks.receiver.badSignatures).toBe(0);
}
