import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { type NestFastifyApplication } from '@nestjs/platform-fastify';
import rhea, { type Connection, type Message, type Sender } from 'rhea';
import { connectionOptions } from '../../src/receiving/iotda-amqp.consumer.js';
import { eventuallyDefined } from './eventually.js';

const run = promisify(execFile);

/** The machine's RabbitMQ with its AMQP 1.0 plugin (.ci/run enables it). */
export const AMQP_URL = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A queue of its own for a test: its name, and the address the service's consumer reads. */
export interface TestQueue {
  name: string;
  /** RabbitMQ's address of an existing queue: what IOTDA_AMQP_QUEUE is set to. */
  address: string;
}

export type Body = 'data' | 'value';

/** A test's client of the broker: declares queues, publishes, and says what a queue holds. */
export class TestBroker {
  private constructor(private readonly connection: Connection) {}

  static async open(url = AMQP_URL): Promise<TestBroker> {
    const connection = rhea.create_container().connect(connectionOptions(url));
    await new Promise<void>((resolve, reject) => {
      connection.once('connection_open', () => resolve());
      connection.once('disconnected', (context) =>
        reject(new Error(`RabbitMQ is not reachable: ${String(context.error)}`)),
      );
    });
    return new TestBroker(connection);
  }

  /** A new durable queue (RabbitMQ declares one for a /queue/NAME target). */
  async queue(): Promise<TestQueue> {
    const name = `ct-test-${randomBytes(6).toString('hex')}`;
    const sender = await this.sender(`/queue/${name}`);
    sender.close();
    return { name, address: `/amq/queue/${name}` };
  }

  /**
   * A new queue whose rejected messages RabbitMQ dead-letters into a second one, `dead` (a policy
   * of its own, removed by deleteQueue).
   */
  async queueWithDeadLetters(): Promise<TestQueue & { dead: TestQueue }> {
    const queue = await this.queue();
    const dead = await this.queue();
    await run('rabbitmqctl', [
      '-q',
      'set_policy',
      '--apply-to',
      'queues',
      queue.name,
      `^${queue.name}$`,
      JSON.stringify({ 'dead-letter-exchange': '', 'dead-letter-routing-key': dead.name }),
    ]);
    return { ...queue, dead };
  }

  /** Publishes each message (JSON as a data section, as IoTDA sends it) and waits until the broker took all. */
  async publish(queue: TestQueue, messages: unknown[], body: Body = 'data'): Promise<void> {
    await this.send(
      queue,
      messages.map((message) => toAmqp(message, body)),
    );
  }

  /** Sends these AMQP messages as they are, and waits until the broker took all. */
  async send(queue: TestQueue, messages: Message[]): Promise<void> {
    const sender = await this.sender(`/queue/${queue.name}`);
    let settled = 0;
    let failed = 0;
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      const done = () => {
        if (settled + failed === messages.length) {
          if (failed > 0) {
            reject(new Error(`the broker refused ${failed} messages`));
          } else {
            resolve();
          }
        }
      };
      sender.on('accepted', () => {
        settled++;
        done();
      });
      for (const event of ['rejected', 'released', 'modified']) {
        sender.on(event, () => {
          failed++;
          done();
        });
      }
      const pump = () => {
        while (next < messages.length && sender.sendable()) {
          sender.send(messages[next++]);
        }
      };
      sender.on('sendable', pump);
      pump();
      done();
    });
    sender.close();
  }

  close(): void {
    this.connection.close();
  }

  private async sender(address: string): Promise<Sender> {
    const sender = this.connection.open_sender({ target: { address } });
    await new Promise<void>((resolve, reject) => {
      sender.once('sender_open', () => resolve());
      sender.once('sender_error', (context) =>
        reject(new Error(`could not open ${address}: ${String(context.sender?.error)}`)),
      );
    });
    return sender;
  }
}

function toAmqp(message: unknown, body: Body): Message {
  const text = typeof message === 'string' ? message : JSON.stringify(message);
  return {
    durable: true,
    content_type: 'application/json',
    body: body === 'data' ? rhea.message.data_section(Buffer.from(text)) : text,
  };
}

/** Messages ready and unacknowledged in a queue, as RabbitMQ counts them. */
export async function queueDepth(queue: TestQueue): Promise<{ ready: number; unacked: number }> {
  const { stdout } = await run('rabbitmqctl', [
    '-q',
    'list_queues',
    'name',
    'messages_ready',
    'messages_unacknowledged',
  ]);
  const line = stdout.split('\n').find((row) => row.split('\t')[0] === queue.name);
  const [, ready, unacked] = (line ?? `${queue.name}\t0\t0`).split('\t');
  return { ready: Number(ready), unacked: Number(unacked) };
}

/** Waits until the queue holds no message, ready or unacknowledged: every one was settled. */
export async function queueDrained(queue: TestQueue, timeoutMs?: number): Promise<void> {
  await eventuallyDefined(
    'the queue is empty',
    async () => {
      const depth = await queueDepth(queue);
      return depth.ready + depth.unacked === 0 ? true : undefined;
    },
    timeoutMs,
  );
}

/** Waits until the service's consumer has its link open, as /health/ready reports it. */
export async function consumerReceiving(app: NestFastifyApplication): Promise<void> {
  await eventuallyDefined('the consumer receives', async () => {
    const response = await app.inject({ method: 'GET', url: '/health/ready' });
    return response.json().details?.iotdaAmqp?.consumer === 'receiving' ? true : undefined;
  });
}

/** Deletes the queue, and its dead-letter queue and policy when it has them. */
export async function deleteQueue(queue: TestQueue & { dead?: TestQueue }): Promise<void> {
  await run('rabbitmqctl', ['-q', 'delete_queue', queue.name]).catch(() => undefined);
  if (queue.dead !== undefined) {
    await run('rabbitmqctl', ['-q', 'clear_policy', queue.name]).catch(() => undefined);
    await run('rabbitmqctl', ['-q', 'delete_queue', queue.dead.name]).catch(() => undefined);
  }
}
