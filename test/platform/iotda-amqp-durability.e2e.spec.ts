import {
  TestBroker,
  type TestQueue,
  AMQP_URL,
  deleteQueue,
  queueDepth,
  queueDrained,
} from '../support/amqp.js';
import { describeWithBrokers } from '../support/brokers.js';
import { eventuallyDefined } from '../support/eventually.js';
import { commandIdOf, iotdaMessage } from '../support/iotda.js';
import { type ServiceProcess, ensureBuilt, startService } from '../support/service-process.js';
import {
  type TestDatabase,
  adminQuery,
  createTestDatabase,
  serverUrl,
} from '../support/test-database.js';

// The real built service as a child process consuming a RabbitMQ queue: what it has not settled
// stays on the broker, whether the service was never up or was killed with SIGKILL mid-stream.

const onServer = serverUrl() === undefined ? describe.skip : await describeWithBrokers(['amqp1']);

onServer('IoTDA AMQP consumption across stops and SIGKILL (PostgreSQL)', () => {
  let broker: TestBroker;
  let database: TestDatabase;
  let queue: TestQueue;
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    await ensureBuilt();
    broker = await TestBroker.open();
    database = await createTestDatabase();
  }, 120_000);

  beforeEach(async () => {
    queue = await broker.queue();
  });

  afterEach(async () => {
    await Promise.all(services.splice(0).map((service) => service.kill()));
    await deleteQueue(queue);
  });

  afterAll(async () => {
    broker.close();
    await database.drop();
  });

  const start = async () => {
    const service = await startService({
      DATABASE_URL: database.url,
      LOG_LEVEL: 'warn',
      IOTDA_AMQP_URL: AMQP_URL,
      IOTDA_AMQP_QUEUE: queue.address,
    });
    services.push(service);
    return service;
  };

  /** How many of these commands have the status, as the database holds them. */
  const stored = async (commandIds: string[], status: string) =>
    Number(
      (
        await adminQuery<{ count: string }>(
          database.url,
          `SELECT count(*) FROM commands WHERE command_id = ANY($1) AND status = $2`,
          [commandIds, status],
        )
      )[0].count,
    );

  const drained = () => queueDrained(queue, 30_000);

  it('applies every message published while it was down once it starts', async () => {
    const messages = Array.from({ length: 300 }, () => iotdaMessage({ status: 'DELIVERED' }));
    const ids = messages.map(commandIdOf);
    await broker.publish(queue, messages);
    expect((await queueDepth(queue)).ready).toBe(300);

    await start();
    await eventuallyDefined('all 300 applied', async () =>
      (await stored(ids, 'DELIVERED')) === 300 ? true : undefined,
    );
    await drained();
  });

  it('loses nothing when killed with SIGKILL mid-stream, and applies the rest after a restart', async () => {
    const messages = Array.from({ length: 3000 }, () => iotdaMessage({ status: 'SUCCESSFUL' }));
    const ids = messages.map(commandIdOf);
    await broker.publish(queue, messages);

    const first = await start();
    const before = await eventuallyDefined(
      'some applied, not all',
      async () => {
        const count = await stored(ids, 'SUCCESSFUL');
        return count >= 200 ? count : undefined;
      },
      60_000,
    );
    await first.kill();
    const atKill = await stored(ids, 'SUCCESSFUL');
    expect(before).toBeLessThan(3000);
    expect(atKill).toBeLessThan(3000);
    // Whatever the killed process had received and not settled is back on the queue.
    const depth = await queueDepth(queue);
    expect(depth.unacked).toBe(0);
    expect(depth.ready).toBeGreaterThanOrEqual(3000 - atKill);

    await start();
    await eventuallyDefined(
      'all 3000 applied',
      async () => ((await stored(ids, 'SUCCESSFUL')) === 3000 ? true : undefined),
      90_000,
    );
    await drained();
    // Each command got its report applied once; a redelivered one is a duplicate, nothing else.
    const outcomes = await adminQuery<{ outcome: string; count: string }>(
      database.url,
      `SELECT h.outcome, count(*) FROM command_history h
        WHERE h.command_id = ANY($1) GROUP BY h.outcome`,
      [ids],
    );
    const byOutcome = Object.fromEntries(outcomes.map((row) => [row.outcome, Number(row.count)]));
    expect(byOutcome.applied).toBe(3000);
    expect(
      Object.keys(byOutcome).filter((outcome) => outcome !== 'applied' && outcome !== 'duplicate'),
    ).toEqual([]);
  }, 180_000);
});
