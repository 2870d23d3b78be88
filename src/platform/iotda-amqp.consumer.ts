import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import rhea, {
  type Connection,
  type ConnectionOptions,
  type Delivery,
  type EventContext,
  type Receiver,
} from 'rhea';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { CommandMismatchError } from '../commands/command-errors.js';
import { assertNever } from '../commands/command-status.js';
import { CommandsService } from '../commands/commands.service.js';
import {
  databaseConfigurationProblem,
  isDatabaseUnavailable,
  withDeadline,
} from '../database/database-errors.js';
import { redactUrl } from '../http/redact.js';
import { CommandMetrics } from '../metrics/command-metrics.js';
import { parseIotdaMessage } from './iotda-message.js';

/** Messages received and not yet settled, at most: bounds memory and the work waiting on the database. */
export const AMQP_PREFETCH = 64;

// A report that has not committed by then is released and comes again (a repeat is a duplicate).
const REPORT_DEADLINE_MS = 10_000;

const RECONNECT_INITIAL_MS = 250;
const RECONNECT_MAX_MS = 30_000;
// While the database is unavailable, each released message's credit comes back after this long
// (doubling up to the maximum), so the broker does not redeliver in a tight loop.
const RETRY_INITIAL_MS = 250;
const RETRY_MAX_MS = 5_000;

export type AmqpConsumerState = 'disabled' | 'connecting' | 'receiving' | 'stopped';

export interface AmqpConsumerHealth {
  state: AmqpConsumerState;
  /** The source address the receiving link reads. */
  queue?: string;
  /** Why the consumer is not receiving, when it is not. */
  lastError?: string;
}

type Settlement =
  | { kind: 'accept' }
  | { kind: 'reject'; description: string }
  | { kind: 'release'; reason: 'database' | 'unexpected' };

/**
 * Consumes IoTDA's forwarded messages from an AMQP 1.0 queue (IOTDA_AMQP_URL, IOTDA_AMQP_QUEUE)
 * and applies each like POST /callbacks/iotda. A message is accepted only once its report has
 * committed, so a crash at any moment leaves it on the broker to be delivered again; one that is
 * not a valid report is rejected (the broker's dead-lettering applies); while the database is
 * unavailable messages are released and come again. The connection is re-made with backoff
 * whenever it or the link is lost.
 */
@Injectable()
export class IotdaAmqpConsumer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('IotdaAmqp');
  private connection: Connection | undefined;
  private receiver: Receiver | undefined;
  private state: AmqpConsumerState;
  private lastError: string | undefined;
  private reconnectDelay = RECONNECT_INITIAL_MS;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private retryDelay = RETRY_INITIAL_MS;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  // Deliveries of an earlier link cannot be settled any more (the broker delivers them again):
  // the link they came on is remembered with each.
  private link = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly commands: CommandsService,
    private readonly metrics: CommandMetrics,
  ) {
    this.state = config.iotdaAmqp === undefined ? 'disabled' : 'connecting';
  }

  onApplicationBootstrap(): void {
    if (this.config.iotdaAmqp !== undefined) {
      this.logger.log(
        `Consuming IoTDA messages from ${this.config.iotdaAmqp.queue} at ${redactUrl(this.config.iotdaAmqp.url)}`,
      );
      this.connect();
    }
  }

  onModuleDestroy(): void {
    this.state = this.state === 'disabled' ? 'disabled' : 'stopped';
    clearTimeout(this.reconnectTimer);
    for (const timer of this.retryTimers) {
      clearTimeout(timer);
    }
    this.retryTimers.clear();
    this.closeConnection();
  }

  health(): AmqpConsumerHealth {
    return {
      state: this.state,
      ...(this.config.iotdaAmqp === undefined ? {} : { queue: this.config.iotdaAmqp.queue }),
      ...(this.state === 'receiving' || this.lastError === undefined
        ? {}
        : { lastError: this.lastError }),
    };
  }

  private connect(): void {
    const amqp = this.config.iotdaAmqp;
    if (amqp === undefined || this.state === 'stopped') {
      return;
    }
    this.state = 'connecting';
    const container = rhea.create_container();
    const connection = container.connect(connectionOptions(amqp.url));
    this.connection = connection;
    const lost = (why: string) => {
      if (this.connection === connection) {
        this.connectionLost(why);
      }
    };
    connection.on('connection_error', (context: EventContext) =>
      lost(`connection refused by the broker: ${describeError(context.connection.error)}`),
    );
    connection.on('connection_close', () => lost('connection closed by the broker'));
    connection.on('disconnected', (context: EventContext) =>
      lost(`disconnected: ${describeError(context.error)}`),
    );
    connection.on('receiver_error', (context: EventContext) =>
      lost(`receiving link refused: ${describeError(context.receiver?.error)}`),
    );
    connection.on('receiver_close', () => lost('receiving link closed by the broker'));
    connection.on('receiver_open', (context: EventContext) => {
      const receiver = context.receiver;
      if (this.connection !== connection || receiver === undefined) {
        return;
      }
      this.link++;
      this.receiver = receiver;
      this.state = 'receiving';
      this.lastError = undefined;
      this.reconnectDelay = RECONNECT_INITIAL_MS;
      // A fresh link starts with no credit.
      receiver.add_credit(AMQP_PREFETCH);
      this.logger.log(`Receiving IoTDA messages from ${amqp.queue}`);
    });
    connection.on('message', (context: EventContext) => {
      if (this.connection !== connection || context.delivery === undefined) {
        return;
      }
      void this.handle(context.message?.body, context.delivery, this.link);
    });
    connection.open_receiver({
      source: { address: amqp.queue },
      // Credit is given back by hand, once a message is settled (see handle()).
      credit_window: 0,
      autoaccept: false,
    });
  }

  private connectionLost(why: string): void {
    this.closeConnection();
    if (this.state === 'stopped') {
      return;
    }
    this.state = 'connecting';
    this.lastError = why;
    this.logger.warn(`IoTDA AMQP consumer: ${why}; connecting again in ${this.reconnectDelay} ms`);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), this.reconnectDelay);
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
  }

  private closeConnection(): void {
    const connection = this.connection;
    this.connection = undefined;
    this.receiver = undefined;
    if (connection !== undefined) {
      // Unsettled deliveries go back to the queue with the connection.
      connection.removeAllListeners();
      connection.on('error', () => undefined);
      connection.on('disconnected', () => undefined);
      if (connection.is_open()) {
        connection.close();
      } else {
        connection.on('connection_open', () => connection.close());
      }
    }
  }

  private async handle(body: unknown, delivery: Delivery, link: number): Promise<void> {
    let settlement: Settlement;
    try {
      settlement = await this.apply(body);
    } catch (error) {
      // apply() answers every case; this is a fault of this service.
      this.logger.error({ err: describeStack(error) }, 'Unexpected error on an IoTDA AMQP message');
      settlement = { kind: 'release', reason: 'unexpected' };
    }
    if (link !== this.link || this.receiver === undefined) {
      // Its link is gone: the broker delivers it again on the new one.
      return;
    }
    const receiver = this.receiver;
    switch (settlement.kind) {
      case 'accept':
        delivery.accept();
        this.retryDelay = RETRY_INITIAL_MS;
        receiver.add_credit(1);
        return;
      case 'reject':
        delivery.reject({ condition: 'amqp:decode-error', description: settlement.description });
        receiver.add_credit(1);
        return;
      case 'release': {
        this.metrics.callbackFailed(settlement.reason);
        delivery.release();
        const timer = setTimeout(() => {
          this.retryTimers.delete(timer);
          if (link === this.link) {
            this.receiver?.add_credit(1);
          }
        }, this.retryDelay);
        this.retryTimers.add(timer);
        this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
        return;
      }
      default:
        assertNever(settlement);
    }
  }

  /** Applies one message's report; says how to settle it. */
  private async apply(body: unknown): Promise<Settlement> {
    const decoded = decodeBody(body);
    if (decoded.kind === 'undecodable') {
      this.logger.warn(`Rejected an IoTDA AMQP message: ${decoded.why}`);
      return { kind: 'reject', description: decoded.why };
    }
    const message = parseIotdaMessage(decoded.value);
    switch (message.kind) {
      case 'invalid': {
        const why = message.problems.map((problem) => problem.message).join('; ');
        this.logger.warn(`Rejected an IoTDA AMQP message that is not a valid report: ${why}`);
        return { kind: 'reject', description: why };
      }
      case 'ignored':
        this.metrics.callbackIgnored();
        return { kind: 'accept' };
      case 'report':
        try {
          await withDeadline(
            this.commands.report({ ...message.report, payload: decoded.value, source: 'iotda' }),
            REPORT_DEADLINE_MS,
          );
          return { kind: 'accept' };
        } catch (error) {
          if (error instanceof CommandMismatchError) {
            this.logger.warn(`Rejected an IoTDA AMQP message: ${error.message}`);
            return { kind: 'reject', description: error.message };
          }
          if (isDatabaseUnavailable(error)) {
            const configuration = databaseConfigurationProblem(error);
            if (configuration !== undefined) {
              this.logger.error(`Database configuration error: ${configuration}; message released`);
            }
            return { kind: 'release', reason: 'database' };
          }
          throw error;
        }
      default:
        return assertNever(message);
    }
  }
}

type Decoded = { kind: 'json'; value: unknown } | { kind: 'undecodable'; why: string };

/**
 * A message body as JSON: IoTDA sends the forwarded JSON as a data section (bytes); an AMQP value
 * holding the JSON text, or the object itself, is read too.
 */
export function decodeBody(body: unknown): Decoded {
  let text: string;
  if (typeof body === 'string') {
    text = body;
  } else if (Buffer.isBuffer(body)) {
    text = body.toString('utf8');
  } else if (
    typeof body === 'object' &&
    body !== null &&
    Buffer.isBuffer((body as { content?: unknown }).content)
  ) {
    text = (body as { content: Buffer }).content.toString('utf8');
  } else if (typeof body === 'object' && body !== null) {
    return { kind: 'json', value: body };
  } else {
    return { kind: 'undecodable', why: 'the body is neither JSON text nor a JSON object' };
  }
  try {
    return { kind: 'json', value: JSON.parse(text) as unknown };
  } catch {
    return { kind: 'undecodable', why: 'the body is not valid JSON' };
  }
}

/** rhea's connection options from an amqp:// or amqps:// URL (user and password percent-encoded). */
export function connectionOptions(url: string): ConnectionOptions {
  const parsed = new URL(url);
  const tls = parsed.protocol === 'amqps:';
  const username = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  const common = {
    host: parsed.hostname,
    port: parsed.port === '' ? (tls ? 5671 : 5672) : Number(parsed.port),
    ...(username === '' ? {} : { username }),
    ...(password === '' ? {} : { password }),
    // Reconnection is this consumer's own, so that a refused login or a lost link is retried too.
    reconnect: false,
    idle_time_out: 30_000,
  };
  return tls ? { ...common, transport: 'tls', servername: parsed.hostname } : common;
}

function describeError(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const { condition, description, message } = error as {
      condition?: unknown;
      description?: unknown;
      message?: unknown;
    };
    const parts = [condition, description ?? message].filter((part) => typeof part === 'string');
    if (parts.length > 0) {
      return parts.join(': ');
    }
  }
  if (error instanceof Error) {
    return error.message;
  }
  return typeof error === 'string' ? error : 'no reason given';
}

function describeStack(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
