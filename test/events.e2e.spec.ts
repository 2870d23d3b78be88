import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { EventSinks } from '../src/events/event-sinks.js';
import { comparePositions, decodePosition } from '../src/feed/feed-position.js';
import { eventually } from './support/eventually.js';
import {
  EVENTS_AMQP_URL,
  EVENTS_NATS_URL,
  type Sinks,
  allDelivered,
  checkAll,
  checkDelivery,
  eventsConfig,
  openSinks,
} from './support/events.js';
import { callbackBody, newCommandId } from './support/factories.js';
import { FaultProxy } from './support/fault-proxy.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { createTestDatabase, serverUrl } from './support/test-database.js';
import { describeWithBrokers } from './support/brokers.js';

const describeOnBrokers = await describeWithBrokers(['rabbitmq', 'nats']);

const STATUSES = ['PENDING', 'SENT', 'DELIVERED', 'SUCCESSFUL'] as const;

/** Waits until every sink has its stored position, so that changes written next are delivered. */
async function sinksReady(t: TestApp): Promise<void> {
  const sinks = t.app.get(EventSinks);
  await eventually(
    async () => (await sinks.status()).every((sink) => sink.lagSeconds !== undefined),
    20_000,
    () => 'the sinks have no stored position',
  );
}

/**
 * A status push, repeated after a 503 as the platform repeats it: on a loaded machine the embedded
 * database's single session may not keep up with the concurrent writers, which the contract
 * answers 503 (nothing stored).
 */
async function push(t: TestApp, commandId: string, status: string, retries = 10): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const response = await t.app.inject({
      method: 'POST',
      url: '/callbacks/command-status',
      payload: callbackBody({ commandId, result: { resultCode: status, resultDetail: null } }),
    });
    if (response.statusCode !== 503 || attempt === retries) {
      expect(response.statusCode).toBe(200);
      return response.json<{ outcome: string }>().outcome;
    }
    await sleep(500);
  }
}

/**
 * Each command's statuses in order, with a duplicate and a stale report that change nothing;
 * `retries` 0: every push must be answered 200 at once.
 */
async function writeCommand(t: TestApp, commandId: string, retries = 10): Promise<void> {
  for (const status of STATUSES) {
    await push(t, commandId, status, retries);
    if (status === 'DELIVERED') {
      expect(await push(t, commandId, 'DELIVERED', retries)).toBe('duplicate');
      expect(await push(t, commandId, 'SENT', retries)).toBe('stale');
    }
  }
}

async function appliedChanges(t: TestApp): Promise<{ historyId: string }[]> {
  return t.app
    .get(DataSource)
    .query<{ historyId: string }[]>(
      `SELECT id::text AS "historyId" FROM command_history WHERE outcome = 'applied'`,
    );
}

async function metric(t: TestApp, name: string, sink: string): Promise<number> {
  const response = await t.app.inject({ method: 'GET', url: '/metrics' });
  const line = response.body.split('\n').find((text) => text.startsWith(`${name}{sink="${sink}"}`));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
}

describeOnBrokers('events out: RabbitMQ, NATS JetStream, webhooks', () => {
  let sinks: Sinks;

  beforeEach(async () => {
    sinks = await openSinks();
  });

  afterEach(async () => {
    await sinks.close();
  });

  it('delivers every applied change to each sink, in order, with concurrent writers', async () => {
    const database = await createTestDatabase();
    // Two instances share PostgreSQL; the embedded database serves one process.
    const instances = serverUrl() === undefined ? 1 : 2;
    const apps: TestApp[] = [];
    try {
      for (let i = 0; i < instances; i++) {
        apps.push(await startTestApp({ events: eventsConfig(sinks) }, database));
      }
      await Promise.all(apps.map(sinksReady));
      const commands = Array.from({ length: 30 }, () => newCommandId());
      await Promise.all(commands.map((id, i) => writeCommand(apps[i % instances], id)));
      await sinks.nats.consume();
      const applied = await appliedChanges(apps[0]);
      expect(applied).toHaveLength(commands.length * STATUSES.length);
      await allDelivered(sinks, applied.length);
      checkAll(sinks, applied);

      // Exactly one instance feeds each sink, and only it delivered.
      for (const sink of ['amqp', 'nats', 'webhook']) {
        const feeding = await Promise.all(
          apps.map(async (t) =>
            (await t.app.get(EventSinks).status()).some((s) => s.sink === sink && s.feeding),
          ),
        );
        expect(feeding.filter(Boolean)).toHaveLength(1);
        const delivered = await Promise.all(
          apps.map((t) => metric(t, 'events_delivered_total', sink)),
        );
        expect(delivered.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(applied.length);
        expect(await metric(apps[0], 'events_lag_seconds', sink)).toBe(0);
      }
      const ready = await apps[0].app.inject({ method: 'GET', url: '/health/ready' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json<{ details: { events: { status: string } } }>().details.events.status).toBe(
        'up',
      );
    } finally {
      for (const t of apps) {
        await t.app.close();
      }
      await database.drop();
    }
  });

  it('keeps answering callbacks while every sink is down, then delivers what it missed', async () => {
    const rabbitProxy = await FaultProxy.start('amqp://127.0.0.1:5672');
    const natsProxy = await FaultProxy.start('nats://127.0.0.1:4222');
    const lines: string[] = [];
    const t = await startTestApp(
      {
        logLevel: 'info',
        events: {
          ...eventsConfig(sinks, {
            amqp: rabbitProxy.url(EVENTS_AMQP_URL),
            nats: natsProxy.url(EVENTS_NATS_URL),
          }),
          maxLagSeconds: 1,
        },
      },
      undefined,
      { logDestination: { write: (line: string) => void lines.push(line) } },
    );
    try {
      await sinksReady(t);
      const before = Array.from({ length: 3 }, () => newCommandId());
      await Promise.all(before.map((id) => writeCommand(t, id)));
      await sinks.nats.consume();
      await allDelivered(sinks, before.length * STATUSES.length);

      rabbitProxy.refuse();
      natsProxy.refuse();
      sinks.receiver.mode = 'fail';
      const during = Array.from({ length: 5 }, () => newCommandId());
      // The sinks being down changes nothing for the callbacks.
      await Promise.all(during.map((id) => writeCommand(t, id, 0)));
      await eventually(
        async () =>
          (await metric(t, 'events_failures_total', 'amqp')) > 0 &&
          (await metric(t, 'events_failures_total', 'nats')) > 0 &&
          (await metric(t, 'events_failures_total', 'webhook')) > 0,
        30_000,
        () => 'every sink failing',
      );
      await eventually(
        async () => {
          const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
          const body = ready.json<{ details: { events: { status: string; behind?: string[] } } }>();
          return (
            ready.statusCode === 200 &&
            body.details.events.status === 'degraded' &&
            body.details.events.behind?.length === 3
          );
        },
        10_000,
        () => 'every sink shown degraded in /health/ready',
      );

      await rabbitProxy.restore();
      await natsProxy.restore();
      sinks.receiver.mode = 'accept';
      const applied = await appliedChanges(t);
      expect(applied).toHaveLength((before.length + during.length) * STATUSES.length);
      // A webhook call refused during the outage waits up to 60 s (its backoff's cap) before it
      // is repeated, and a command's later changes wait for it.
      await allDelivered(sinks, applied.length, 90_000);
      checkAll(sinks, applied);
      // The receiver refused some calls, and what was repeated came with the same id.
      expect(sinks.receiver.calls).toBeGreaterThan(sinks.receiver.received.length);
      // The failures were logged, without the webhook secret or the broker's password.
      const log = lines.join('');
      expect(log).toContain('Delivery failed, retrying with backoff');
      expect(log).not.toContain(sinks.receiver.secret);
      expect(log).not.toContain('guest:guest');
    } finally {
      await t.close();
      await rabbitProxy.close();
      await natsProxy.close();
    }
  }, 180_000);

  it('replays from a position an operator stores, with the same ids', async () => {
    const t = await startTestApp({
      events: { ...eventsConfig(sinks), amqp: undefined, nats: undefined },
    });
    try {
      await sinksReady(t);
      const commands = [newCommandId(), newCommandId()];
      for (const commandId of commands) {
        await writeCommand(t, commandId);
      }
      await eventually(
        () => sinks.receiver.received.length === 8,
        20_000,
        () => '8 deliveries',
      );
      // In feed order (a webhook sends different commands' changes concurrently).
      const byPosition = (a: { id: string }, b: { id: string }) =>
        comparePositions(decodePosition(a.id)!, decodePosition(b.id)!);
      const first = [...sinks.receiver.received].sort(byPosition);
      // docs/operations.md: resume after the fourth change.
      const [xid, id] = first[3].id.split('-');
      await t.app.get(DataSource).query(
        `UPDATE event_sinks SET position_xid = $1, position_id = $2, holder = NULL,
             lease_until = '-infinity' WHERE sink = 'webhook'`,
        [xid, id],
      );
      await eventually(
        () => sinks.receiver.received.length === 12,
        30_000,
        () => 'the replay',
      );
      expect(sinks.receiver.received.slice(8).sort(byPosition)).toEqual(first.slice(4));
    } finally {
      await t.close();
    }
  });

  it('repeats a webhook call that got no answer within 10 s', async () => {
    const t = await startTestApp({
      events: { ...eventsConfig(sinks), amqp: undefined, nats: undefined },
    });
    try {
      await sinksReady(t);
      sinks.receiver.mode = 'hang';
      const commandId = newCommandId();
      await push(t, commandId, 'SENT');
      await eventually(
        () => sinks.receiver.calls >= 2,
        30_000,
        () => 'a second call',
        200,
      );
      sinks.receiver.mode = 'accept';
      await eventually(
        () => sinks.receiver.received.length === 1,
        30_000,
        () => 'the delivery',
      );
      checkDelivery(sinks.receiver.received, await appliedChanges(t), 'perCommand');
    } finally {
      await t.close();
    }
  });
});
