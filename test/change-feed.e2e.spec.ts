import fc from 'fast-check';
import http from 'node:http';
import v8 from 'node:v8';
import vm from 'node:vm';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { ChangeFeed } from '../src/feed/change-feed.js';
import { ChangeReader } from '../src/feed/change-reader.js';
import { callbackBody, newCommandId } from './support/factories.js';
import { SseClient, listenUrl } from './support/sse.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { createTestDatabase, serverUrl } from './support/test-database.js';

// The change feed's promise (docs/change-feed.md): every applied change exactly once, none
// missing, per command in apply order, across reconnections and instances.

// A full garbage collection before each heap reading, so that the readings compare live objects.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const STATUSES = ['SENT', 'DELIVERED', 'SUCCESSFUL', 'FAILED', 'TIMEOUT', 'CANCELED'] as const;

async function push(t: TestApp, body: object): Promise<void> {
  const response = await t.app.inject({
    method: 'POST',
    url: '/callbacks/command-status',
    payload: body,
  });
  expect(response.statusCode).toBe(200);
}

async function until(
  predicate: () => boolean,
  what: string | (() => string),
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${typeof what === 'string' ? what : what()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The applied history ids of a device's commands, and each command's applied versions. */
async function appliedHistory(t: TestApp, deviceId: string): Promise<Map<string, number>> {
  const rows: { id: string; version: number }[] = await t.app.get(DataSource).query(
    `SELECT h.id::text AS id, h.version FROM command_history h
       JOIN commands c ON c.command_id = h.command_id
       WHERE c.device_id = $1 AND h.outcome = 'applied'`,
    [deviceId],
  );
  return new Map(rows.map((row) => [row.id, row.version]));
}

interface Plan {
  reports: { command: number; status: (typeof STATUSES)[number] }[];
  /** Events a reader takes before it reconnects, in turn. */
  reconnectAfter: number[];
}

const plans = (commands: number) =>
  fc.record({
    reports: fc.array(
      fc.record({
        command: fc.integer({ min: 0, max: commands - 1 }),
        status: fc.constantFrom(...STATUSES),
      }),
      { minLength: 40, maxLength: 120 },
    ),
    reconnectAfter: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 8 }),
  });

/**
 * Runs `plan`: `senders` concurrent writers spread the reports over `instances`, while one reader
 * keeps reconnecting, in turn to each instance, with the Last-Event-ID of the last event it got.
 * Checks what the reader received against the history.
 */
async function checkPlan(
  instances: TestApp[],
  plan: Plan,
  commands: number,
  senders: number,
): Promise<void> {
  const bases = await Promise.all(instances.map((t) => listenUrl(t.app)));
  const deviceId = `feed-${newCommandId()}`;
  const commandIds = Array.from({ length: commands }, () => newCommandId());
  const received: { id: string; historyId: string; commandId: string; version: number }[] = [];

  let writing = true;
  const queue = [...plan.reports];
  const writers = Array.from({ length: senders }, async (_, sender) => {
    for (let report = queue.shift(); report !== undefined; report = queue.shift()) {
      await push(instances[(sender + queue.length) % instances.length], {
        deviceId,
        commandId: commandIds[report.command],
        result: { resultCode: report.status, resultDetail: null },
      });
    }
  });
  const writersDone = Promise.all(writers).finally(() => {
    writing = false;
  });

  let expected: Map<string, number> | undefined;
  let caughtUpBy = Number.POSITIVE_INFINITY;
  const reading = (async () => {
    for (let round = 0; ; round++) {
      const last = received.at(-1)?.id;
      const client = await SseClient.open(
        `${bases[round % bases.length]}/changes?deviceId=${deviceId}`,
        { 'last-event-id': last ?? '0' },
      );
      expect(client.status).toBe(200);
      const take = plan.reconnectAfter[round % plan.reconnectAfter.length];
      await client
        .waitUntil(
          () =>
            client.changes().length >= take ||
            (expected !== undefined && received.length + client.changes().length >= expected.size),
          writing ? 300 : 3000,
        )
        .catch(() => undefined);
      client.close();
      received.push(...client.changes());
      if (expected !== undefined && received.length >= expected.size) {
        return;
      }
      if (!writing && expected === undefined) {
        expected = await appliedHistory(instances[0], deviceId);
        caughtUpBy = Date.now() + 15_000;
      }
      if (Date.now() > caughtUpBy) {
        // What is missing shows in the assertions below.
        return;
      }
    }
  })();
  await writersDone;
  await reading;
  expected ??= await appliedHistory(instances[0], deviceId);

  const historyIds = received.map((change) => change.historyId);
  expect(new Set(historyIds).size).toBe(historyIds.length);
  expect(new Set(historyIds)).toEqual(new Set(expected.keys()));
  for (const commandId of commandIds) {
    const versions = received.filter((c) => c.commandId === commandId).map((c) => c.version);
    expect(versions).toEqual(versions.map((_, index) => index + 1));
  }
}

/**
 * A client that connects without Last-Event-ID and then, like EventSource, reconnects with the last
 * id it received, whether or not a change came with it. Every other stream is closed on its first
 * message, before any change can reach it; the others after 300 ms. `senders` writers begin once
 * the first stream has its 200, so the client must receive everything they apply, exactly once.
 */
async function checkFreshClientReconnecting(
  instances: TestApp[],
  reports: number,
  commands: number,
  senders: number,
): Promise<void> {
  const bases = await Promise.all(instances.map((t) => listenUrl(t.app)));
  const deviceId = `fresh-${newCommandId()}`;
  const commandIds = Array.from({ length: commands }, () => newCommandId());
  const received: { id: string; historyId: string; commandId: string; version: number }[] = [];
  const url = (round: number) => `${bases[round % bases.length]}/changes?deviceId=${deviceId}`;

  const first = await SseClient.open(url(0));
  expect(first.status).toBe(200);
  let writing = true;
  let sent = 0;
  const writers = Array.from({ length: senders }, async (_, sender) => {
    while (sent < reports) {
      sent++;
      await push(instances[(sender + sent) % instances.length], {
        deviceId,
        commandId: commandIds[sent % commands],
        result: { resultCode: STATUSES[(sent * 7 + sender) % STATUSES.length], resultDetail: null },
      });
    }
  });
  const writersDone = Promise.all(writers).finally(() => {
    writing = false;
  });

  let lastId: string | undefined;
  let expected: Map<string, number> | undefined;
  let caughtUpBy = Number.POSITIVE_INFINITY;
  for (let round = 0; ; round++) {
    const client =
      round === 0
        ? first
        : await SseClient.open(url(round), lastId === undefined ? {} : { 'last-event-id': lastId });
    expect(client.status).toBe(200);
    if (round % 2 === 0 && writing) {
      await client.waitUntil(() => client.blocks > 0, 5000);
    } else {
      await client
        .waitUntil(
          () =>
            expected !== undefined && received.length + client.changes().length >= expected.size,
          writing ? 300 : 3000,
        )
        .catch(() => undefined);
    }
    client.close();
    received.push(...client.changes());
    lastId = client.lastEventId ?? lastId;
    if (expected !== undefined && received.length >= expected.size) {
      break;
    }
    if (!writing && expected === undefined) {
      await writersDone;
      expected = await appliedHistory(instances[0], deviceId);
      caughtUpBy = Date.now() + 15_000;
    }
    if (Date.now() > caughtUpBy) {
      // What is missing shows in the assertions below.
      break;
    }
    // EventSource waits before reconnecting; the writers go on meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await writersDone;
  expected ??= await appliedHistory(instances[0], deviceId);

  const historyIds = received.map((change) => change.historyId);
  expect(new Set(historyIds).size).toBe(historyIds.length);
  expect(new Set(historyIds)).toEqual(new Set(expected.keys()));
  for (const commandId of commandIds) {
    const versions = received.filter((c) => c.commandId === commandId).map((c) => c.version);
    expect(versions).toEqual(versions.map((_, index) => index + 1));
  }
}

describe('the change feed on one instance', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('delivers every applied change once, per command in version order, to a reader that keeps reconnecting', async () => {
    await fc.assert(
      fc.asyncProperty(plans(16), (plan) => checkPlan([t], plan, 16, 8)),
      { numRuns: 3 },
    );
  });

  it('loses and repeats nothing for a client that connects without Last-Event-ID and reconnects before its first change, under concurrent writers', async () => {
    for (let round = 0; round < 4; round++) {
      await checkFreshClientReconnecting([t], 240, 16, 8);
    }
  }, 90_000);
});

const onPostgres = serverUrl() === undefined ? describe.skip : describe;

onPostgres('the change feed on two instances of one PostgreSQL database', () => {
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    const database = await createTestDatabase();
    a = await startTestApp({}, database);
    b = await startTestApp({}, database);
  });

  afterAll(async () => {
    await a.close();
    await b.close();
    await a.database.drop();
  });

  it('delivers every applied change once, per command in version order, to a reader alternating instances', async () => {
    await fc.assert(
      fc.asyncProperty(plans(6), (plan) => checkPlan([a, b], plan, 6, 32)),
      { numRuns: 8 },
    );
  });

  it('loses and repeats nothing for a client that connects without Last-Event-ID and reconnects before its first change, alternating instances', async () => {
    for (let round = 0; round < 3; round++) {
      await checkFreshClientReconnecting([a, b], 240, 6, 32);
    }
  }, 90_000);

  it('holds back a change until an older transaction commits, then delivers both once, in transaction order', async () => {
    const base = await listenUrl(a.app);
    const deviceId = `order-${newCommandId()}`;
    const before = callbackBody({ deviceId });
    await push(a, before);
    const resumedFromStart = await SseClient.open(
      `${base}/changes?deviceId=${deviceId}&lastEventId=0`,
    );
    const [first] = await resumedFromStart.waitForChanges(1);
    resumedFromStart.close();
    const client = await SseClient.open(`${base}/changes?deviceId=${deviceId}`, {
      'last-event-id': first.id,
    });

    // The older transaction takes its id first, then waits while a newer one writes and commits.
    const raw = new pg.Client({ connectionString: a.database.url });
    await raw.connect();
    try {
      await raw.query('BEGIN');
      await raw.query('SELECT pg_current_xact_id()');
      const newer = callbackBody({ deviceId });
      await push(b, newer);
      const older = callbackBody({ deviceId });
      // Written as any writer would: the command and its applied history row.
      await raw.query(
        `INSERT INTO commands (command_id, device_id, status, rank, created_at, updated_at,
           deadline, sent_at, version)
         VALUES ($1, $2, 'SENT', 1, now(), now(), now() + interval '1 day', now(), 1)`,
        [older.commandId, deviceId],
      );
      await raw.query(
        `INSERT INTO command_history (command_id, status, outcome, source, version, received_at)
         VALUES ($1, 'SENT', 'applied', 'callback', 1, now())`,
        [older.commandId],
      );
      // The newer change is committed and readable, yet the reader passes it over, read after read.
      const reader = a.app.get(ChangeReader);
      const reads = reader.reads;
      await until(() => reader.reads >= reads + 3, 'three reads');
      expect(client.changes()).toEqual([]);

      await raw.query('COMMIT');
      const changes = await client.waitForChanges(2);
      expect(changes.map((c) => c.commandId)).toEqual([older.commandId, newer.commandId]);
      // The newer transaction wrote the lower history id: the feed's order is the transactions'.
      expect(BigInt(changes[0].historyId)).toBeGreaterThan(BigInt(changes[1].historyId));

      // Nothing comes twice, and a client resuming from before both gets both, once, on either.
      const marker = callbackBody({ deviceId });
      await push(a, marker);
      await client.waitForChanges(3);
      expect(client.changes().map((c) => c.commandId)).toEqual([
        older.commandId,
        newer.commandId,
        marker.commandId,
      ]);
      const resumed = await SseClient.open(
        `${await listenUrl(b.app)}/changes?deviceId=${deviceId}`,
        {
          'last-event-id': first.id,
        },
      );
      await resumed.waitForChanges(3);
      expect(resumed.changes().map((c) => c.id)).toEqual(client.changes().map((c) => c.id));
      resumed.close();
    } finally {
      client.close();
      await raw.end();
    }
    expect(before.commandId).toBe(first.commandId);
  });
  it('shows a transaction holding the feed back in command_feed_holdback_seconds, and open streams in command_feed_clients', async () => {
    const base = await listenUrl(a.app);
    const metric = async (name: string): Promise<number> => {
      const text = (await a.app.inject({ method: 'GET', url: '/metrics' })).body;
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return Number(line?.split(' ')[1]);
    };
    const client = await SseClient.open(`${base}/changes?deviceId=holdback`);
    const raw = new pg.Client({ connectionString: a.database.url });
    await raw.connect();
    try {
      await raw.query('BEGIN');
      await raw.query('SELECT pg_current_xact_id()');
      const started = Date.now();
      await until(() => Date.now() - started > 300, '300 ms of an open transaction');
      expect(await metric('command_feed_holdback_seconds')).toBeGreaterThanOrEqual(0.3);
      expect(await metric('command_feed_clients')).toBe(1);
    } finally {
      await raw.query('ROLLBACK');
      await raw.end();
      client.close();
    }
    await until(() => a.app.get(ChangeFeed).clients === 0, 'the stream to close');
    expect(await metric('command_feed_clients')).toBe(0);
    expect(await metric('command_feed_holdback_seconds')).toBe(0);
  });
});

describe('GET /changes limits', () => {
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    t = await startTestApp({ changesMaxClients: 2 });
    base = await listenUrl(t.app);
  });

  afterAll(async () => {
    await t.close();
  });

  it('answers 503 with Retry-After beyond CHANGES_MAX_CLIENTS, and serves again once a stream closed', async () => {
    const open = [
      await SseClient.open(`${base}/changes`),
      await SseClient.open(`${base}/changes?lastEventId=0`),
    ];
    expect(open.map((c) => c.status)).toEqual([200, 200]);
    const refused = await SseClient.open(`${base}/changes`);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(JSON.parse(await refused.body())).toMatchObject({ status: 503 });

    open[0].close();
    const feed = t.app.get(ChangeFeed);
    await until(() => feed.clients === 1, 'the closed stream to be released');
    const again = await SseClient.open(`${base}/changes`);
    expect(again.status).toBe(200);
    again.close();
    open[1].close();
  });

  it('answers 503 problem details, never an empty stream, once shutdown has begun', async () => {
    const t2 = await startTestApp();
    const base2 = await listenUrl(t2.app);
    const live = await SseClient.open(`${base2}/changes`);
    expect(live.status).toBe(200);
    // The hook Nest runs first at shutdown, before the HTTP server stops taking requests.
    t2.app.get(ChangeFeed).beforeApplicationShutdown();
    await live.waitUntil(() => live.ended, 5000);
    const refused = await SseClient.open(`${base2}/changes`);
    expect(refused.status).toBe(503);
    expect(JSON.parse(await refused.body())).toMatchObject({ status: 503 });
    await t2.close();
  });
});

describe('GET /changes memory', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('keeps no replayed changes once resumed streams are live: 100 of them over a 1,500-change backlog', async () => {
    const deviceId = `memory-${newCommandId()}`;
    const backlog = 1500;
    const dataSource = t.app.get(DataSource);
    await dataSource.query(
      `INSERT INTO commands (command_id, device_id, status, rank, service_id, method, created_at,
         updated_at, deadline, sent_at, version)
       SELECT $1 || '-' || n, $1, 'SENT', 1, NULL, NULL, now(), now(), now() + interval '1 day',
              now(), 1
       FROM generate_series(1, $2::integer) n`,
      [deviceId, backlog],
    );
    await dataSource.query(
      `INSERT INTO command_history (command_id, status, outcome, source, previous_status, version,
         received_at)
       SELECT $1 || '-' || n, 'SENT', 'applied', 'callback', NULL, 1, now()
       FROM generate_series(1, $2::integer) n ORDER BY n`,
      [deviceId, backlog],
    );
    const base = await listenUrl(t.app);
    // Raw sockets that count events and keep nothing: the test's own memory stays flat.
    const agent = new http.Agent({ keepAlive: false, maxSockets: 200 });
    const heap = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    const before = heap();
    const streams = await Promise.all(
      Array.from(
        { length: 100 },
        () =>
          new Promise<{ events: () => number; close: () => void }>((resolve, reject) => {
            const request = http.get(`${base}/changes?deviceId=${deviceId}&lastEventId=0`, {
              agent,
            });
            request.once('response', (response) => {
              let events = 0;
              let rest = '';
              response.setEncoding('utf8');
              response.on('data', (chunk: string) => {
                const blocks = (rest + chunk).split('\n\n');
                rest = blocks.pop() ?? '';
                events += blocks.filter((block) => block.includes('event: command-status')).length;
              });
              resolve({ events: () => events, close: () => request.destroy() });
            });
            request.once('error', reject);
          }),
      ),
    );
    try {
      await until(
        () => streams.every((stream) => stream.events() >= backlog),
        () => `every stream to replay the backlog (${streams.map((s) => s.events()).join(',')})`,
        60_000,
      );
      const reader = t.app.get(ChangeReader);
      await until(() => reader.liveListeners === 100, 'every stream to be live');
      // The sockets and streams of both ends take a few MB; anything kept per replayed change
      // (150,000 of them) would add at least as much again.
      expect(heap() - before).toBeLessThan(6 * 1024 * 1024);
    } finally {
      for (const stream of streams) {
        stream.close();
      }
      agent.destroy();
    }
  }, 90_000);
});
