import rhea, { type Message } from 'rhea';
import {
  TestBroker,
  type TestQueue,
  AMQP_URL,
  consumerReceiving,
  deleteQueue,
  queueDepth,
  queueDrained,
} from '../support/amqp.js';
import { eventuallyDefined } from '../support/eventually.js';
import { commandIdOf, iotdaMessage } from '../support/iotda.js';
import { type TestApp, startTestApp } from '../support/test-app.js';
import { describeWithBrokers } from '../support/brokers.js';

const describeOnBrokers = await describeWithBrokers(['amqp1']);

// Messages that are not what IoTDA sends: each is rejected (RabbitMQ dead-letters it), and the
// consumer stays up and goes on with the next one.

interface LogLine {
  level: number;
  msg?: string;
}

const BODY_LIMIT = 65_536;
// rabbitmqctl answers in seconds on a busy machine.
const BROKER_WAIT_MS = 60_000;

/** A valid report whose JSON text is exactly `bytes` long. */
function reportOfSize(bytes: number): Record<string, unknown> {
  const message = iotdaMessage({ status: 'SUCCESSFUL', result: { pad: '' } });
  const padding = bytes - Buffer.byteLength(JSON.stringify(message));
  return { ...message, notify_data: padded(message, 'x'.repeat(padding)) };
}

function padded(message: Record<string, unknown>, pad: string): unknown {
  const notify = message.notify_data as { header: unknown; body: Record<string, unknown> };
  return { ...notify, body: { ...notify.body, result: { pad } } };
}

describeOnBrokers('IoTDA over AMQP 1.0: malformed and oversized messages', () => {
  let broker: TestBroker;
  let queue: TestQueue & { dead: TestQueue };
  let t: TestApp;
  const lines: LogLine[] = [];

  beforeAll(async () => {
    broker = await TestBroker.open();
    queue = await broker.queueWithDeadLetters();
    t = await startTestApp(
      { logLevel: 'warn', iotdaAmqp: { url: AMQP_URL, queue: queue.address } },
      undefined,
      { logDestination: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) } },
    );
    await consumerReceiving(t.app);
  });

  afterAll(async () => {
    await t.close();
    broker.close();
    await deleteQueue(queue);
  });

  const status = async (commandId: string) => {
    const response = await t.app.inject({
      method: 'GET',
      url: `/commands/${encodeURIComponent(commandId)}`,
    });
    return response.statusCode === 200 ? (response.json().status as string) : response.statusCode;
  };
  const applied = (commandId: string) =>
    eventuallyDefined(`${commandId} is applied`, async () =>
      (await status(commandId)) === 'SUCCESSFUL' ? true : undefined,
    );
  /** Waits until `count` more messages reached the dead-letter queue than before. */
  const deadLettered = async (before: number, count: number) =>
    eventuallyDefined(
      'dead-lettered',
      async () => ((await queueDepth(queue.dead)).ready === before + count ? true : undefined),
      BROKER_WAIT_MS,
    );

  /** Sends `bad`, then a valid report: the valid one is applied, `bad` is dead-lettered. */
  const rejectedBeforeTheNext = async (bad: Message) => {
    lines.length = 0;
    const before = (await queueDepth(queue.dead)).ready;
    const good = iotdaMessage({ status: 'SUCCESSFUL' });
    await broker.send(queue, [bad]);
    await broker.publish(queue, [good]);
    await applied(commandIdOf(good));
    await deadLettered(before, 1);
    await queueDrained(queue, BROKER_WAIT_MS);
    await consumerReceiving(t.app);
    expect(lines.some((line) => line.msg?.startsWith('Rejected an IoTDA AMQP message'))).toBe(true);
  };

  it('rejects a message the AMQP decoder cannot read (an AMQP null value before a data section) and goes on', async () => {
    const report = iotdaMessage({ status: 'SUCCESSFUL' });
    // What rhea sends for a data section passed as the message itself, not as its body.
    const malformed = rhea.message.data_section(Buffer.from(JSON.stringify(report)));
    await rejectedBeforeTheNext(malformed);
    expect(await status(commandIdOf(report))).toBe(404);
  });

  it('reads a report whose body is exactly BODY_LIMIT_BYTES', async () => {
    const report = reportOfSize(BODY_LIMIT);
    expect(Buffer.byteLength(JSON.stringify(report))).toBe(BODY_LIMIT);
    await broker.publish(queue, [report]);
    await applied(commandIdOf(report));
    await queueDrained(queue, BROKER_WAIT_MS);
  });

  it.each([
    ['one byte over BODY_LIMIT_BYTES', BODY_LIMIT + 1],
    ['5 MB', 5 * 1024 * 1024],
  ])('rejects a report whose body is %s, storing nothing, and goes on', async (_, bytes) => {
    const report = reportOfSize(bytes);
    await rejectedBeforeTheNext({
      durable: true,
      body: rhea.message.data_section(Buffer.from(JSON.stringify(report))),
    });
    expect(await status(commandIdOf(report))).toBe(404);
  });

  it('rejects an AMQP string value over BODY_LIMIT_BYTES too', async () => {
    const report = reportOfSize(BODY_LIMIT + 1);
    await rejectedBeforeTheNext({ durable: true, body: JSON.stringify(report) });
    expect(await status(commandIdOf(report))).toBe(404);
  });
});
