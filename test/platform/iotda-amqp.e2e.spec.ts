import { setTimeout as sleep } from 'node:timers/promises';
import { jest } from '@jest/globals';
import { CommandsService } from '../../src/commands/commands.service.js';
import { FaultProxy } from '../support/fault-proxy.js';
import {
  TestBroker,
  type TestQueue,
  AMQP_URL,
  consumerReceiving,
  deleteQueue,
  queueDrained,
} from '../support/amqp.js';
import { eventuallyDefined } from '../support/eventually.js';
import { commandIdOf, iotdaMessage } from '../support/iotda.js';
import { type TestApp, startTestApp } from '../support/test-app.js';
import { createTestDatabase, serverUrl } from '../support/test-database.js';
import { describeWithBrokers } from '../support/brokers.js';

const describeOnBrokers = await describeWithBrokers(['amqp1']);

interface LogLine {
  level: number;
  msg?: string;
  err?: unknown;
}

describeOnBrokers('IoTDA over AMQP 1.0 (RabbitMQ)', () => {
  let broker: TestBroker;
  let queue: TestQueue;
  let t: TestApp;
  const lines: LogLine[] = [];
  let startupLines: LogLine[] = [];

  beforeAll(async () => {
    broker = await TestBroker.open();
    queue = await broker.queue();
    t = await startTestApp(
      { logLevel: 'info', iotdaAmqp: { url: AMQP_URL, queue: queue.address } },
      undefined,
      { logDestination: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) } },
    );
    startupLines = [...lines];
  });

  afterAll(async () => {
    await t.close();
    broker.close();
    await deleteQueue(queue);
  });

  const getCommand = (commandId: string) =>
    t.app.inject({ method: 'GET', url: `/commands/${encodeURIComponent(commandId)}` });
  const applied = (commandId: string, status: string) =>
    eventuallyDefined<{ history: unknown[] }>(`${commandId} is ${status}`, async () => {
      const response = await getCommand(commandId);
      return response.statusCode === 200 && response.json().status === status
        ? response.json()
        : undefined;
    });
  const metric = async (pattern: RegExp) =>
    Number(pattern.exec((await t.app.inject({ method: 'GET', url: '/metrics' })).body)?.[1]);
  const empty = () => queueDrained(queue);

  it('reports the consumer in /health/ready once it receives', async () => {
    await consumerReceiving(t.app);
    const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().details.iotdaAmqp).toEqual({
      status: 'up',
      consumer: 'receiving',
      queue: queue.address,
    });
  });

  it.each([
    ['a data section, as IoTDA sends it', 'data' as const],
    ['an AMQP string value', 'value' as const],
  ])('applies a report sent as %s with source iotda, and settles it', async (_, body) => {
    const message = iotdaMessage({ status: 'SUCCESSFUL', result: { code: 200 } });
    await broker.publish(queue, [message], body);
    const command = await applied(commandIdOf(message), 'SUCCESSFUL');
    expect(command).toMatchObject({ deviceId: 'd-1', resultDetail: { code: 200 } });
    expect(command.history).toEqual([
      expect.objectContaining({ source: 'iotda', outcome: 'applied', payload: message }),
    ]);
    await empty();
  });

  it('applies the rank rule to messages of one command in any order', async () => {
    const first = iotdaMessage({ status: 'SUCCESSFUL' });
    const commandId = commandIdOf(first);
    await broker.publish(queue, [
      first,
      iotdaMessage({ commandId, status: 'DELIVERED' }),
      iotdaMessage({ commandId, status: 'SENT' }),
      iotdaMessage({ commandId, status: 'SUCCESSFUL' }),
    ]);
    await eventuallyDefined('four history entries', async () => {
      const command = (await getCommand(commandId)).json();
      return command.history?.length === 4 ? command : undefined;
    });
    const command = (await getCommand(commandId)).json();
    expect(command.status).toBe('SUCCESSFUL');
    // Whatever order they were applied in, SUCCESSFUL was applied once and is final.
    const successful = command.history.filter(
      (entry: { status: string }) => entry.status === 'SUCCESSFUL',
    );
    expect(successful.map((entry: { outcome: string }) => entry.outcome).sort()).toEqual([
      'applied',
      'duplicate',
    ]);
  });

  it('accepts and counts a message of another resource, storing nothing', async () => {
    const ignored = /command_callbacks_total\{outcome="ignored"\} (\d+)/;
    const before = await metric(ignored);
    const message = iotdaMessage({ resource: 'device.message.status' });
    await broker.publish(queue, [message]);
    await eventuallyDefined('ignored is counted', async () =>
      (await metric(ignored)) === before + 1 ? true : undefined,
    );
    await empty();
    expect((await getCommand(commandIdOf(message))).statusCode).toBe(404);
  });

  it.each([
    ['not JSON', '{"resource":'],
    ['not a valid report', iotdaMessage({ status: 'CANCELED' })],
    ['a JSON array', [1, 2]],
  ])('rejects a message that is %s, logs it, and goes on with the next', async (_, bad) => {
    lines.length = 0;
    const good = iotdaMessage({ status: 'SENT' });
    await broker.publish(queue, [bad, good]);
    await applied(commandIdOf(good), 'SENT');
    // Rejected, not released: it is gone from the queue instead of coming back.
    await empty();
    expect(lines.some((line) => line.msg?.startsWith('Rejected an IoTDA AMQP message'))).toBe(true);
    if (typeof bad === 'object' && !Array.isArray(bad)) {
      expect((await getCommand(commandIdOf(bad))).statusCode).toBe(404);
    }
  });

  it('logs where it consumes from without the broker password', () => {
    const line = startupLines.find((entry) => entry.msg?.startsWith('Consuming IoTDA messages'));
    expect(line?.msg).toContain('amqp://guest:***@127.0.0.1:5672');
    expect(JSON.stringify([...startupLines, ...lines])).not.toContain('guest:guest');
  });

  it('releases a message on an unexpected error, logs it at error with its stack, counts it, and applies it when it comes again', async () => {
    const unexpected = /command_callback_failures_total\{reason="unexpected"\} (\d+)/;
    const before = await metric(unexpected);
    lines.length = 0;
    const spy = jest
      .spyOn(t.app.get(CommandsService), 'report')
      .mockRejectedValueOnce(new TypeError('a bug in the service'));
    try {
      const message = iotdaMessage({ status: 'FAILED' });
      await broker.publish(queue, [message]);
      await applied(commandIdOf(message), 'FAILED');
      expect(await metric(unexpected)).toBe(before + 1);
      const logged = lines.find((line) => line.msg === 'Unexpected error on an IoTDA AMQP message');
      expect(logged?.level).toBe(50);
      expect(String(logged?.err)).toMatch(/TypeError: a bug in the service\n\s+at /);
      await empty();
    } finally {
      spy.mockRestore();
    }
  });

  it('rejects a report for a command known under another device, applying nothing', async () => {
    const message = iotdaMessage({ status: 'SENT' });
    await broker.publish(queue, [message]);
    await applied(commandIdOf(message), 'SENT');
    await broker.publish(queue, [
      iotdaMessage({ commandId: commandIdOf(message), deviceId: 'd-other', status: 'FAILED' }),
    ]);
    await empty();
    const command = (await getCommand(commandIdOf(message))).json();
    expect(command).toMatchObject({ deviceId: 'd-1', status: 'SENT' });
    expect(command.history).toHaveLength(1);
  });
});

describeOnBrokers('IoTDA AMQP consumer when the broker connection is lost', () => {
  it('reports it degraded, reconnects by itself, and applies what was published meanwhile', async () => {
    const broker = await TestBroker.open();
    const queue = await broker.queue();
    const proxy = await FaultProxy.start('amqp://127.0.0.1:5672');
    const url = `amqp://guest:guest@127.0.0.1:${proxy.port}`;
    const t = await startTestApp({ iotdaAmqp: { url, queue: queue.address } });
    const amqpHealth = async () =>
      (await t.app.inject({ method: 'GET', url: '/health/ready' })).json();
    try {
      await consumerReceiving(t.app);
      proxy.cut();
      const degraded = await eventuallyDefined('reported not receiving', async () => {
        const health = await amqpHealth();
        return health.details?.iotdaAmqp?.consumer === 'connecting' ? health : undefined;
      });
      // The database still serves: HTTP pushes keep working, so the instance stays ready.
      expect(degraded.details.iotdaAmqp).toMatchObject({
        status: 'degraded',
        lastError: expect.any(String),
      });
      expect(degraded.details.database.status).toBe('up');
      const message = iotdaMessage({ status: 'DELIVERED' });
      await broker.publish(queue, [message]);
      await proxy.restore();
      await eventuallyDefined('applied after reconnecting', async () => {
        const response = await t.app.inject({
          method: 'GET',
          url: `/commands/${commandIdOf(message)}`,
        });
        return response.statusCode === 200 ? true : undefined;
      });
      expect((await amqpHealth()).details.iotdaAmqp.consumer).toBe('receiving');
    } finally {
      await t.close();
      await proxy.close();
      broker.close();
      await deleteQueue(queue);
    }
  });
});

describeOnBrokers(
  `IoTDA AMQP consumer while the database is cut (${serverUrl() === undefined ? 'embedded' : 'PostgreSQL'})`,
  () => {
    it('releases the message no sooner than the backoff, counts it, and applies it once the database is back', async () => {
      const broker = await TestBroker.open();
      const queue = await broker.queue();
      const database = await createTestDatabase();
      const proxy = await FaultProxy.start(database.url);
      const t = await startTestApp(
        { iotdaAmqp: { url: AMQP_URL, queue: queue.address } },
        { ...database, url: proxy.url(database.url), drop: async () => {} },
      );
      const failures = async () =>
        Number(
          /command_callback_failures_total\{reason="database"\} (\d+)/.exec(
            (await t.app.inject({ method: 'GET', url: '/metrics' })).body,
          )?.[1],
        );
      try {
        await consumerReceiving(t.app);
        proxy.cut();
        const message = iotdaMessage({ status: 'SUCCESSFUL' });
        await broker.publish(queue, [message]);
        await eventuallyDefined('released at least once', async () =>
          (await failures()) > 0 ? true : undefined,
        );
        // The backoff gives the released message back after 250 ms, then 500, 1000, 2000: within
        // the next 3 s it comes 3 times, not again and again on the link's remaining credit.
        const first = await failures();
        await sleep(3_000);
        expect((await failures()) - first).toBeLessThanOrEqual(4);
        await proxy.restore();
        await eventuallyDefined(
          'applied once the database is back',
          async () => {
            const response = await t.app.inject({
              method: 'GET',
              url: `/commands/${commandIdOf(message)}`,
            });
            return response.statusCode === 200 && response.json().status === 'SUCCESSFUL'
              ? true
              : undefined;
          },
          30_000,
        );
        await queueDrained(queue);
      } finally {
        await t.close();
        await proxy.close();
        await database.drop();
        broker.close();
        await deleteQueue(queue);
      }
    });
  },
);
