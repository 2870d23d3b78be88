import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import amqp from 'amqplib';
import rhea from 'rhea';
import { connectionOptions } from '../../src/receiving/iotda-amqp.consumer.js';
import { AMQP_URL } from './amqp.js';
import { EVENTS_AMQP_URL, EVENTS_NATS_URL } from './events.js';
import { describeIfAvailable } from './services.js';

/** The brokers tests use: the IoTDA consumer's AMQP 1.0, and the events sinks' RabbitMQ and NATS. */
export type Broker = 'amqp1' | 'rabbitmq' | 'nats';

const PROBE_TIMEOUT_MS = 5000;

function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in 5 s`)), PROBE_TIMEOUT_MS);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

// Errors made in another realm (rhea's, under Jest) are not instances of this realm's Error.
function reason(error: unknown): string {
  return typeof error === 'object' && error !== null && 'message' in error
    ? String(error.message)
    : String(error);
}

// Each probe speaks the protocol the tests speak (a port that answers is not enough: RabbitMQ
// without its AMQP 1.0 support, or NATS without JetStream, would fail every test).
const PROBES: Record<Broker, () => Promise<void>> = {
  amqp1: () =>
    new Promise<void>((resolve, reject) => {
      const connection = rhea.create_container().connect(connectionOptions(AMQP_URL));
      connection.once('connection_open', () => {
        connection.close();
        resolve();
      });
      connection.once('connection_error', (context) => {
        reject(new Error(`refused: ${String(context.connection.error)}`));
      });
      connection.once('disconnected', (context) =>
        reject(new Error(context.error === undefined ? 'disconnected' : reason(context.error))),
      );
    }),
  rabbitmq: async () => {
    const connection = await amqp.connect(EVENTS_AMQP_URL);
    await connection.close();
  },
  nats: async () => {
    const connection = await natsConnect({ servers: EVENTS_NATS_URL, timeout: PROBE_TIMEOUT_MS });
    try {
      await (await jetstreamManager(connection)).getAccountInfo();
    } finally {
      await connection.close();
    }
  },
};

const NAMES: Record<Broker, string> = {
  amqp1: `RabbitMQ with AMQP 1.0 at ${new URL(AMQP_URL).host} (TEST_AMQP_URL)`,
  rabbitmq: `RabbitMQ at ${new URL(EVENTS_AMQP_URL).host} (TEST_EVENTS_AMQP_URL)`,
  nats: `NATS with JetStream at ${new URL(EVENTS_NATS_URL).host} (TEST_EVENTS_NATS_URL)`,
};

/** What is missing of `needs`, one phrase each; empty when every broker answers. */
async function missing(needs: Broker[]): Promise<string[]> {
  const results = await Promise.all(
    needs.map((broker) =>
      withTimeout(PROBES[broker](), NAMES[broker]).then(
        () => undefined,
        (error: unknown) => `no ${NAMES[broker]} (${reason(error)})`,
      ),
    ),
  );
  return results.filter((result) => result !== undefined);
}

/**
 * A describe() for tests that need these brokers: as describe() when they all answer; otherwise,
 * in CI a failing test saying what is missing, elsewhere a skip with one line (see services.ts).
 * Asynchronous, since the brokers are asked: `const describeOn = await describeWithBrokers([...])`.
 */
export async function describeWithBrokers(
  needs: Broker[],
): Promise<(name: string, tests: () => void) => void> {
  const absent = await missing(needs);
  const problem =
    absent.length === 0
      ? undefined
      : `${absent.join('; ')}. .ci/run starts them (see README's Development and tests).`;
  return (name, tests) => describeIfAvailable(name, 'its brokers', problem, tests);
}
