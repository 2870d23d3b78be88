import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from './support/eventually.js';
import {
  EVENTS_AMQP_URL,
  EVENTS_NATS_URL,
  type Sinks,
  allDelivered,
  checkAll,
  openSinks,
} from './support/events.js';
import { callbackBody, newCommandId } from './support/factories.js';
import { type ServiceProcess, startService } from './support/service-process.js';
import { type TestDatabase, createTestDatabase, serverUrl } from './support/test-database.js';
import { describeWithBrokers } from './support/brokers.js';

const describeOnBrokers = await describeWithBrokers(['rabbitmq', 'nats']);

const STATUSES = ['PENDING', 'SENT', 'DELIVERED', 'SUCCESSFUL'] as const;

interface SinkStatus {
  sink: string;
  lagSeconds?: number;
  feeding: boolean;
}

async function sinkStatus(service: ServiceProcess): Promise<SinkStatus[]> {
  const response = await fetch(`${service.url}/health/ready`);
  const body = (await response.json()) as { details?: { events?: { sinks?: SinkStatus[] } } };
  return body.details?.events?.sinks ?? [];
}

/** Until every sink has a stored position, so that changes written next are delivered. */
async function sinksReady(service: ServiceProcess): Promise<void> {
  await eventually(
    async () => {
      const sinks = await sinkStatus(service);
      return sinks.length === 3 && sinks.every((sink) => typeof sink.lagSeconds === 'number');
    },
    30_000,
    () => `the sinks have no stored position:\n${service.output()}`,
    200,
  );
}

/**
 * Writes each command's statuses in order against whichever instance is up, until stopped; a
 * report whose instance died on it may or may not be stored, which the applied history tells.
 */
class Writer {
  readonly commands: string[] = [];
  callbacks = 0;
  private stopped = false;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly targets: () => ServiceProcess[]) {}

  start(concurrency: number): void {
    this.running = Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (!this.stopped) {
          const commandId = newCommandId();
          this.commands.push(commandId);
          for (const status of STATUSES) {
            const live = this.targets();
            if (live.length === 0) {
              // Between the kill and the restart (embedded database).
              await sleep(100);
              continue;
            }
            const target = live[this.callbacks++ % live.length];
            await fetch(`${target.url}/callbacks/command-status`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(
                callbackBody({ commandId, result: { resultCode: status, resultDetail: null } }),
              ),
            }).catch(() => undefined);
          }
        }
      }),
    ).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }
}

async function appliedChanges(
  service: ServiceProcess,
  commands: string[],
): Promise<{ historyId: string }[]> {
  const applied: { historyId: string }[] = [];
  for (const commandId of commands) {
    const response = await fetch(`${service.url}/commands/${commandId}`);
    if (response.status === 404) {
      continue;
    }
    const command = (await response.json()) as { history: { id: string; outcome: string }[] };
    for (const entry of command.history) {
      if (entry.outcome === 'applied') {
        applied.push({ historyId: entry.id });
      }
    }
  }
  return applied;
}

describeOnBrokers('events out when the publishing instance is killed (kill -9)', () => {
  let sinks: Sinks;
  let database: TestDatabase | undefined;
  let dataDir: string | undefined;
  const services: ServiceProcess[] = [];
  let writer: Writer | undefined;

  beforeEach(async () => {
    sinks = await openSinks();
  });

  afterEach(async () => {
    await writer?.stop();
    for (const service of services.splice(0)) {
      await service.kill();
    }
    await sinks.close();
    await database?.drop();
    if (dataDir !== undefined) {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('loses nothing: another instance (or the restarted one) resumes from the stored position', async () => {
    const env: Record<string, string> = {
      LOG_LEVEL: 'warn',
      EVENTS_AMQP_URL,
      EVENTS_AMQP_EXCHANGE: sinks.rabbit.exchange,
      EVENTS_NATS_URL,
      EVENTS_NATS_SUBJECT: sinks.nats.subject,
      WEBHOOK_URL: sinks.receiver.url,
      WEBHOOK_SECRET: sinks.receiver.secret,
    };
    const shared = serverUrl() !== undefined;
    if (shared) {
      database = await createTestDatabase();
      env.DATABASE_URL = database.url;
    } else {
      dataDir = await mkdtemp(join(tmpdir(), 'ct-events-'));
      env.PGLITE_DATA_DIR = dataDir;
    }
    // PostgreSQL: two instances, one of which feeds the sinks; embedded: one, restarted.
    services.push(await startService(env, 90_000));
    if (shared) {
      services.push(await startService(env, 90_000));
    }
    await sinksReady(services[0]);
    const live = () =>
      services.filter(
        (service) => service.child.exitCode === null && service.child.signalCode === null,
      );
    const writing = new Writer(() => live().filter((service) => !service.child.killed));
    writer = writing;
    writing.start(4);
    await eventually(
      () => writing.callbacks >= 80,
      30_000,
      () => 'callbacks written',
    );
    await eventually(
      () => sinks.rabbit.received.length > 0 && sinks.receiver.received.length > 0,
      30_000,
      () => 'deliveries before the kill',
    );

    const feeding = shared ? await eventuallyFeeding(services) : services[0];
    await feeding.kill();
    if (!shared) {
      services.push(await startService(env, 90_000));
    }
    const survivor = live()[0];
    await eventually(
      () => writing.callbacks >= 200,
      60_000,
      () => 'callbacks written after the kill',
    );
    // The survivor (or the restarted instance) takes each sink over once the lease runs out.
    await eventually(
      async () => (await sinkStatus(survivor)).filter((sink) => sink.feeding).length === 3,
      40_000,
      () => 'the survivor feeding every sink',
      200,
    );
    await writing.stop();

    const applied = await appliedChanges(survivor, writing.commands);
    expect(applied.length).toBeGreaterThan(100);
    await sinks.nats.consume();
    await allDelivered(sinks, applied.length);
    checkAll(sinks, applied);
  }, 400_000);
});

/** The instance that feeds the RabbitMQ sink. */
async function eventuallyFeeding(services: ServiceProcess[]): Promise<ServiceProcess> {
  for (const until = Date.now() + 20_000; Date.now() < until;) {
    for (const service of services) {
      if ((await sinkStatus(service)).some((sink) => sink.sink === 'amqp' && sink.feeding)) {
        return service;
      }
    }
  }
  throw new Error('No instance feeds the RabbitMQ sink');
}
