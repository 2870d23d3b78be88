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
import { SECTIONS_ALLOWANCE_BYTES, decodeBody, tolerateUnreadableMessages } from './amqp-body.js';
import { LinkCredit } from './amqp-credit.js';
import { parseIotdaMessage } from './iotda-message.js';

/** Messages received and not yet settled, at most: bounds memory and the work waiting on the database. */
export const AMQP_PREFETCH = 64;

// A report that has not committed by then is released and comes again (a repeat is a duplicate).
const REPORT_DEADLINE_MS = 10_000;

const RECONNECT_INITIAL_MS = 250;
const RECONNECT_MAX_MS = 30_000;

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
  | { kind: 'reject'; condition: string; description: string }
  | { kind: 'release'; reason: 'database' | 'unexpected' };

/**
 * Consumes IoTDA's forwarded messages from an AMQP 1.0 queue (IOTDA_AMQP_URL, IOTDA_AMQP_QUEUE)
 * and applies each like POST /callbacks/iotda. A message is accepted only once its report has
 * committed, so a crash at any moment leaves it on the broker to be delivered again; one that is
 * not a valid report is rejected (the broker's dead-lettering applies); while the database is
 * unavailable messages are released and come again, no sooner than the backoff (see LinkCredit).
 * A message that cannot be decoded, or whose body is over BODY_LIMIT_BYTES, is rejected unread.
 * The connection is re-made with backoff whenever it or the link is lost, or rhea reports an
 * error.
 */
@Injectable()
export class IotdaAmqpConsumer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('IotdaAmqp');
  private connection: Connection | undefined;
  // The credit of the current link; a delivery settles through the one it came on.
  private credit: LinkCredit | undefined;
  private state: AmqpConsumerState;
  private lastError: string | undefined;
  private reconnectDelay = RECONNECT_INITIAL_MS;
  private reconnectTimer: NodeJS.Timeout | undefined;

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
      tolerateUnreadableMessages(this.maxMessageBytes());
      this.connect();
    }
  }

  onModuleDestroy(): void {
    this.state = this.state === 'disabled' ? 'disabled' : 'stopped';
    clearTimeout(this.reconnectTimer);
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
    // rhea emits `error` (on the connection, then on its container) for what it cannot process,
    // and ends the connection; unheard, the event would end the process.
    const failed = (error: unknown) => lost(`AMQP error: ${describeError(error)}`);
    container.on('error', failed);
    connection.on('error', failed);
    connection.on('protocol_error', failed);
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
      this.credit?.close();
      this.credit = new LinkCredit(receiver, AMQP_PREFETCH);
      this.state = 'receiving';
      this.lastError = undefined;
      this.reconnectDelay = RECONNECT_INITIAL_MS;
      this.credit.open();
      this.logger.log(`Receiving IoTDA messages from ${amqp.queue}`);
    });
    connection.on('message', (context: EventContext) => {
      const credit = this.credit;
      if (
        this.connection !== connection ||
        context.delivery === undefined ||
        credit === undefined
      ) {
        return;
      }
      credit.received();
      void this.handle(context.message, context.delivery, credit);
    });
    connection.open_receiver({
      source: { address: amqp.queue },
      // Credit is given by hand (LinkCredit), once a message is settled.
      credit_window: 0,
      autoaccept: false,
      // A broker that honours it sends nothing larger; one that does not (RabbitMQ 3) still
      // gets what is larger rejected unread.
      max_message_size: this.maxMessageBytes(),
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

  /** The largest encoded message read: the body limit, and room for the other sections. */
  private maxMessageBytes(): number {
    return this.config.bodyLimitBytes + SECTIONS_ALLOWANCE_BYTES;
  }

  private closeConnection(): void {
    const connection = this.connection;
    this.connection = undefined;
    this.credit?.close();
    this.credit = undefined;
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

  private async handle(message: unknown, delivery: Delivery, credit: LinkCredit): Promise<void> {
    let settlement: Settlement;
    try {
      settlement = await this.apply(message);
    } catch (error) {
      // apply() answers every case; this is a fault of this service.
      this.logger.error({ err: describeStack(error) }, 'Unexpected error on an IoTDA AMQP message');
      settlement = { kind: 'release', reason: 'unexpected' };
    }
    if (credit.isClosed) {
      // Its link is gone: the broker delivers it again on the new one.
      return;
    }
    switch (settlement.kind) {
      case 'accept':
        credit.settle(delivery, () => delivery.accept());
        return;
      case 'reject': {
        const { condition, description } = settlement;
        credit.settle(delivery, () => delivery.reject({ condition, description }));
        return;
      }
      case 'release':
        this.metrics.callbackFailed(settlement.reason);
        credit.release(delivery);
        return;
      default:
        assertNever(settlement);
    }
  }

  /** Applies one message's report; says how to settle it. */
  private async apply(amqpMessage: unknown): Promise<Settlement> {
    const decoded = decodeBody(amqpMessage, this.config.bodyLimitBytes);
    if (decoded.kind !== 'json') {
      this.logger.warn(`Rejected an IoTDA AMQP message: ${decoded.why}`);
      const condition =
        decoded.kind === 'too-large' ? 'amqp:link:message-size-exceeded' : 'amqp:decode-error';
      return { kind: 'reject', condition, description: decoded.why };
    }
    const message = parseIotdaMessage(decoded.value);
    switch (message.kind) {
      case 'invalid': {
        const why = message.problems.map((problem) => problem.message).join('; ');
        this.logger.warn(`Rejected an IoTDA AMQP message that is not a valid report: ${why}`);
        return { kind: 'reject', condition: 'amqp:decode-error', description: why };
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
            return {
              kind: 'reject',
              condition: 'amqp:precondition-failed',
              description: error.message,
            };
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
