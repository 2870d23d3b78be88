import rhea from 'rhea';
import {
  TestBroker,
  type TestQueue,
  AMQP_URL,
  deleteQueue,
  queueDepth,
  queueDrained,
} from '../support/amqp.js';
import { eventuallyDefined } from '../support/eventually.js';
import { commandIdOf, iotdaMessage } from '../support/iotda.js';
import {
  type ServiceProcess,
  ensureBuilt,
  npmStartNodeOptions,
  startService,
} from '../support/service-process.js';
import { type TestDatabase, createTestDatabase, serverUrl } from '../support/test-database.js';
import { describeWithBrokers } from '../support/brokers.js';

const describeOnBrokers = await describeWithBrokers(['amqp1']);

// The built service as a child process, started on a queue whose first messages would each end
// it: one rhea cannot decode, and a 40 MB report. It stays up, dead-letters both and applies the
// rest, so a restart does not meet them again.

// rabbitmqctl answers in seconds on a busy machine, and 40 MB take a while through the broker.
const WAIT_MS = 90_000;

describeOnBrokers(
  `IoTDA AMQP consumer started on a queue that begins with poison (${serverUrl() === undefined ? 'embedded' : 'PostgreSQL'})`,
  () => {
    let broker: TestBroker;
    let database: TestDatabase | undefined;
    let queue: TestQueue & { dead: TestQueue };
    let service: ServiceProcess | undefined;

    beforeAll(async () => {
      await ensureBuilt();
      broker = await TestBroker.open();
      queue = await broker.queueWithDeadLetters();
      database = serverUrl() === undefined ? undefined : await createTestDatabase();
    }, 120_000);

    afterAll(async () => {
      await service?.kill();
      broker.close();
      await deleteQueue(queue);
      await database?.drop();
    });

    it('stays up, dead-letters them, and applies the messages behind them', async () => {
      const malformedReport = iotdaMessage({ status: 'SUCCESSFUL' });
      const hugeReport = iotdaMessage({
        status: 'SUCCESSFUL',
        result: { pad: 'x'.repeat(40 * 1024 * 1024) },
      });
      const good = Array.from({ length: 3 }, () => iotdaMessage({ status: 'DELIVERED' }));
      await broker.send(queue, [
        // What rhea sends for a data section passed as the message itself, not as its body.
        rhea.message.data_section(Buffer.from(JSON.stringify(malformedReport))),
        { durable: true, body: rhea.message.data_section(Buffer.from(JSON.stringify(hugeReport))) },
      ]);
      await broker.publish(queue, good);

      service = await startService(
        {
          ...(database === undefined
            ? { PGLITE_DATA_DIR: 'memory://' }
            : { DATABASE_URL: database.url }),
          LOG_LEVEL: 'warn',
          IOTDA_AMQP_URL: AMQP_URL,
          IOTDA_AMQP_QUEUE: queue.address,
        },
        WAIT_MS,
        // With the heap cap npm start runs it with.
        await npmStartNodeOptions(),
      );
      const { url, output } = service;
      const status = async (commandId: string) => {
        const response = await fetch(`${url}/commands/${commandId}`).catch((error: unknown) => {
          throw new Error(`The service does not answer (${String(error)}):\n${output()}`);
        });
        return response.ok
          ? ((await response.json()) as { status: string }).status
          : response.status;
      };
      for (const message of good) {
        await eventuallyDefined(
          'applied behind the poison',
          async () => ((await status(commandIdOf(message))) === 'DELIVERED' ? true : undefined),
          WAIT_MS,
        );
      }
      await eventuallyDefined(
        'both dead-lettered',
        async () => ((await queueDepth(queue.dead)).ready === 2 ? true : undefined),
        WAIT_MS,
      );
      await queueDrained(queue, WAIT_MS);
      expect(service.child.exitCode).toBeNull();
      expect(await status(commandIdOf(malformedReport))).toBe(404);
      expect(await status(commandIdOf(hugeReport))).toBe(404);
      const ready = (await (await fetch(`${url}/health/ready`)).json()) as {
        details: { iotdaAmqp: { consumer: string } };
      };
      expect(ready.details.iotdaAmqp.consumer).toBe('receiving');
      expect(service.output()).toContain('Rejected an IoTDA AMQP message');
    }, 300_000);
  },
);
