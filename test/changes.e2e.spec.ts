import { setTimeout as sleep } from 'node:timers/promises';
import { ChangeFeed } from '../src/feed/change-feed.js';
import { comparePositions, decodePosition } from '../src/feed/feed-position.js';
import { DeadlineSweeper } from '../src/commands/deadline-sweeper.js';
import { callbackBody, newCommandId, registrationBody } from './support/factories.js';
import { SseClient, listenUrl } from './support/sse.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { FaultProxy } from './support/fault-proxy.js';
import { type TestDatabase, createTestDatabase, serverUrl } from './support/test-database.js';

const PAST = '2020-01-01T00:00:00Z';

async function push(t: TestApp, body: object): Promise<{ outcome: string; status: string }> {
  const response = await t.app.inject({
    method: 'POST',
    url: '/callbacks/command-status',
    payload: body,
  });
  expect(response.statusCode).toBe(200);
  return response.json();
}

async function register(t: TestApp, body: object): Promise<void> {
  const response = await t.app.inject({ method: 'POST', url: '/commands', payload: body });
  expect([200, 201]).toContain(response.statusCode);
}

async function waitForSubscribers(t: TestApp, count: number): Promise<void> {
  const feed = t.app.get(ChangeFeed);
  const deadline = Date.now() + 5000;
  while (feed.clients !== count) {
    if (Date.now() > deadline) {
      throw new Error(`clients is ${feed.clients}, expected ${count}`);
    }
    await sleep(20);
  }
}

describe('GET /changes (one instance)', () => {
  let t: TestApp;
  let base: string;
  const clients: SseClient[] = [];

  const open = async (query = '', headers: Record<string, string> = {}) => {
    const client = await SseClient.open(`${base}/changes${query}`, headers);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    t = await startTestApp({ changesHeartbeatSeconds: 1 });
    base = await listenUrl(t.app);
  });

  afterEach(() => {
    for (const client of clients.splice(0)) {
      client.close();
    }
  });

  afterAll(async () => {
    await t.close();
  });

  it('streams an applied callback as a command-status event with a position id and the history id', async () => {
    const client = await open();
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toBe('text/event-stream');
    expect(client.headers['cache-control']).toBe('no-cache');
    expect(client.headers['x-accel-buffering']).toBe('no');

    const body = callbackBody();
    await push(t, body);
    const [change] = await client.waitForChanges(1, (c) => c.commandId === body.commandId);

    const command = (
      await t.app.inject({ method: 'GET', url: `/commands/${body.commandId}` })
    ).json();
    expect(change.id).toMatch(/^\d+-\d+$/);
    expect(decodePosition(change.id)?.id).toBe(BigInt(command.history[0].id));
    expect(change).toEqual({
      id: change.id,
      historyId: command.history[0].id,
      commandId: body.commandId,
      deviceId: body.deviceId,
      status: 'SENT',
      previousStatus: null,
      source: 'callback',
      version: 1,
      receivedAt: command.history[0].receivedAt,
    });
  });

  it('sends only applied changes: duplicates, stale and conflicting reports produce no events', async () => {
    const client = await open();
    const body = callbackBody();
    const outcomes: string[] = [];
    for (const code of ['SENT', 'SENT', 'DELIVERED', 'SENT', 'SUCCESSFUL', 'FAILED']) {
      outcomes.push((await push(t, { ...body, result: { resultCode: code } })).outcome);
    }
    expect(outcomes).toEqual(['applied', 'duplicate', 'applied', 'stale', 'applied', 'conflict']);
    // Refused reports (another device: 409) and registrations that change no status are silent too.
    const refused = await t.app.inject({
      method: 'POST',
      url: '/callbacks/command-status',
      payload: { ...body, deviceId: 'another-device', result: { resultCode: 'FAILED' } },
    });
    expect(refused.statusCode).toBe(409);
    const merged = await t.app.inject({
      method: 'POST',
      url: '/commands',
      payload: { commandId: body.commandId, deviceId: body.deviceId, status: 'DELIVERED' },
    });
    expect(merged.statusCode).toBe(200);
    // A later change on another command: everything before it has been delivered.
    const marker = callbackBody();
    await push(t, marker);
    await client.waitForChanges(1, (c) => c.commandId === marker.commandId);

    const changes = client.changes().filter((c) => c.commandId === body.commandId);
    expect(changes.map((c) => [c.previousStatus, c.status, c.version])).toEqual([
      [null, 'SENT', 1],
      ['SENT', 'DELIVERED', 2],
      ['DELIVERED', 'SUCCESSFUL', 3],
    ]);
    const positions = changes.map((c) => decodePosition(c.id)!);
    expect([...positions].sort(comparePositions)).toEqual(positions);
  });

  it('filters by deviceId and by commandId', async () => {
    const deviceA = `device-a-${newCommandId()}`;
    const deviceB = `device-b-${newCommandId()}`;
    const byDevice = await open(`?deviceId=${deviceA}`);
    const a1 = callbackBody({ deviceId: deviceA });
    const a2 = callbackBody({ deviceId: deviceA });
    const b1 = callbackBody({ deviceId: deviceB });
    const byCommand = await open(`?commandId=${a2.commandId}`);
    const both = await open(`?deviceId=${deviceB}&commandId=${b1.commandId}`);

    await push(t, a1);
    await push(t, b1);
    await push(t, a2);
    await push(t, { ...a2, result: { resultCode: 'SUCCESSFUL' } });
    const marker = callbackBody();
    await push(t, marker);

    const all = await open(`?lastEventId=0&commandId=${marker.commandId}`);
    await all.waitForChanges(1);
    await byDevice.waitForChanges(3);
    await byCommand.waitForChanges(2);
    await both.waitForChanges(1);
    await sleep(100);
    expect(byDevice.changes().map((c) => [c.commandId, c.status])).toEqual([
      [a1.commandId, 'SENT'],
      [a2.commandId, 'SENT'],
      [a2.commandId, 'SUCCESSFUL'],
    ]);
    expect(byCommand.changes().map((c) => c.status)).toEqual(['SENT', 'SUCCESSFUL']);
    expect(both.changes().map((c) => c.commandId)).toEqual([b1.commandId]);
  });

  it.each([
    ['deviceId over 128 characters', `?deviceId=${'d'.repeat(129)}`, {}, 'deviceId'],
    ['empty commandId', '?commandId=', {}, 'commandId'],
    ['commandId with a control character', '?commandId=a%01b', {}, 'commandId'],
    ['commandId given twice', '?commandId=a&commandId=b', {}, 'commandId'],
    ['non-numeric Last-Event-ID', '', { 'last-event-id': 'abc' }, 'Last-Event-ID'],
    ['negative lastEventId', '?lastEventId=-1', {}, 'lastEventId'],
    ['position with a negative part', '?lastEventId=5--1', {}, 'lastEventId'],
    ['position part above bigint', `?lastEventId=${2n ** 63n}-1`, {}, 'lastEventId'],
    ['bare history id of no entry', '', { 'last-event-id': '999999999' }, 'Last-Event-ID'],
  ])('answers %s with 400 problem details', async (_name, query, headers, field) => {
    const client = await open(query, headers);
    expect(client.status).toBe(400);
    expect(client.headers['content-type']).toContain('application/problem+json');
    const problem = JSON.parse(await client.body());
    expect(problem).toMatchObject({ status: 400, title: 'Bad Request' });
    expect(problem.errors[0].field).toBe(field);
  });

  it('replays the applied changes after Last-Event-ID, then continues live without duplicates', async () => {
    const body = callbackBody();
    await push(t, body);
    await push(t, { ...body, result: { resultCode: 'SENT' } }); // duplicate: never an event
    await push(t, { ...body, result: { resultCode: 'DELIVERED' } });
    await push(t, { ...body, result: { resultCode: 'SUCCESSFUL', resultDetail: { value: 1 } } });
    const history = (
      await t.app.inject({ method: 'GET', url: `/commands/${body.commandId}` })
    ).json().history as { id: string; outcome: string }[];
    const applied = history.filter((entry) => entry.outcome === 'applied').map((e) => e.id);
    expect(applied).toHaveLength(3);

    const client = await open(`?commandId=${body.commandId}`, { 'last-event-id': applied[0] });
    const replayed = await client.waitForChanges(2);
    expect(replayed.map((c) => [c.historyId, c.status, c.version])).toEqual([
      [applied[1], 'DELIVERED', 2],
      [applied[2], 'SUCCESSFUL', 3],
    ]);

    // Same via the query parameter, from the start.
    const fromStart = await open(`?commandId=${body.commandId}&lastEventId=0`);
    expect((await fromStart.waitForChanges(3)).map((c) => c.historyId)).toEqual(applied);

    // A late report on a new command, and the streams carry on live.
    const other = callbackBody({ deviceId: body.deviceId });
    const live = await open(`?deviceId=${body.deviceId}`, { 'last-event-id': replayed[1].id });
    await push(t, other);
    const changes = await live.waitForChanges(1, (c) => c.commandId === other.commandId);
    expect(changes).toHaveLength(1);
    await sleep(100);
    expect(live.changes().filter((c) => c.commandId === body.commandId)).toEqual([]);
    expect(client.changes()).toHaveLength(2);
  });

  it('loses nothing committed while the history is being replayed', async () => {
    const deviceId = `device-${newCommandId()}`;
    const first = callbackBody({ deviceId });
    await push(t, first);
    const [firstId] = (await t.app.inject({ method: 'GET', url: `/commands/${first.commandId}` }))
      .json()
      .history.map((entry: { id: string }) => entry.id);
    const bodies = Array.from({ length: 20 }, () => callbackBody({ deviceId }));
    // Reports land while streams open and replay: every stream ends with each change once.
    const pushing = (async () => {
      for (const body of bodies) {
        await push(t, body);
      }
    })();
    const streams = [];
    for (let i = 0; i < 5; i++) {
      streams.push(await open(`?deviceId=${deviceId}`, { 'last-event-id': firstId }));
    }
    await pushing;
    for (const stream of streams) {
      const changes = await stream.waitForChanges(bodies.length);
      await sleep(50);
      expect(stream.changes().map((c) => c.commandId)).toEqual(bodies.map((b) => b.commandId));
      expect(new Set(changes.map((c) => c.id)).size).toBe(bodies.length);
    }
  });

  it('answers HEAD with the stream headers and no stream', async () => {
    const response = await t.app.inject({ method: 'HEAD', url: '/changes' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/event-stream');
    await waitForSubscribers(t, 0);
  });

  it('sends a heartbeat comment while idle', async () => {
    const client = await open('?commandId=nothing-happens-here');
    await client.waitUntil(() => client.comments.includes('heartbeat'), 5000);
  });

  it('unsubscribes when the client disconnects', async () => {
    await waitForSubscribers(t, 0);
    const one = await open();
    const two = await open('?deviceId=x');
    await waitForSubscribers(t, 2);
    one.close();
    await waitForSubscribers(t, 1);
    two.close();
    await waitForSubscribers(t, 0);
    // Changes after that reach nobody and break nothing.
    await push(t, callbackBody());
  });

  it('streams the changes the deadline sweeper makes', async () => {
    const registration = registrationBody({ deadline: PAST });
    const sent = registrationBody({ deadline: PAST, status: 'SENT' });
    const client = await open(`?deviceId=${registration.deviceId as string}`);
    await register(t, registration);
    await register(t, sent);
    await t.app.get(DeadlineSweeper).sweep();
    const swept = await client.waitForChanges(2, (c) => c.source === 'sweeper');
    expect(
      swept
        .map((c) => [c.commandId, c.previousStatus, c.status, c.version])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    ).toEqual(
      [
        [registration.commandId, 'PENDING', 'EXPIRED', 2],
        [sent.commandId, 'SENT', 'TIMEOUT', 2],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
  });
});

describe('GET /changes with API keys', () => {
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    t = await startTestApp({ apiKeys: ['feed-key'] });
    base = await listenUrl(t.app);
  });

  afterAll(async () => {
    await t.close();
  });

  it('refuses a stream without a key with 401', async () => {
    const client = await SseClient.open(`${base}/changes`);
    expect(client.status).toBe(401);
    expect(JSON.parse(await client.body())).toMatchObject({ status: 401 });
  });

  it('accepts the key as a bearer token or as ?access_token=', async () => {
    const byHeader = await SseClient.open(`${base}/changes`, {
      authorization: 'Bearer feed-key',
    });
    const byQuery = await SseClient.open(`${base}/changes?access_token=feed-key`);
    const wrong = await SseClient.open(`${base}/changes?access_token=other`);
    expect([byHeader.status, byQuery.status, wrong.status]).toEqual([200, 200, 401]);
    byHeader.close();
    byQuery.close();
    await wrong.body();
  });
});

describe('GET /changes at shutdown', () => {
  it('ends open streams so that the application closes', async () => {
    const t = await startTestApp();
    const base = await listenUrl(t.app);
    const clients = await Promise.all([
      SseClient.open(`${base}/changes`),
      SseClient.open(`${base}/changes?deviceId=d`),
    ]);
    expect(clients.map((c) => c.status)).toEqual([200, 200]);
    await t.close();
    for (const client of clients) {
      await client.waitUntil(() => client.ended, 5000);
    }
    expect(t.app.get(ChangeFeed).clients).toBe(0);
  });
});

const onPostgres = serverUrl() === undefined ? describe.skip : describe;

onPostgres('GET /changes with two instances on one PostgreSQL database', () => {
  let a: TestApp;
  let b: TestApp;
  let baseA: string;
  let baseB: string;
  const clients: SseClient[] = [];

  const open = async (base: string, query = '') => {
    const client = await SseClient.open(`${base}/changes${query}`);
    clients.push(client);
    expect(client.status).toBe(200);
    return client;
  };

  beforeAll(async () => {
    const database = await createTestDatabase();
    a = await startTestApp({}, database);
    b = await startTestApp({}, database);
    baseA = await listenUrl(a.app);
    baseB = await listenUrl(b.app);
  });

  afterEach(() => {
    for (const client of clients.splice(0)) {
      client.close();
    }
  });

  afterAll(async () => {
    await a.close();
    await b.close();
    await a.database.drop();
  });

  it('delivers a change applied through one instance to subscribers of both, once each', async () => {
    const onA = await open(baseA);
    const onB = await open(baseB);
    const body = callbackBody();
    await push(a, body);
    await push(b, { ...body, result: { resultCode: 'DELIVERED' } });
    await push(a, { ...body, result: { resultCode: 'DELIVERED' } }); // duplicate
    const marker = callbackBody();
    await push(b, marker);
    for (const client of [onA, onB]) {
      await client.waitForChanges(1, (c) => c.commandId === marker.commandId);
      expect(
        client
          .changes()
          .filter((c) => c.commandId === body.commandId)
          .map((c) => [c.status, c.version]),
      ).toEqual([
        ['SENT', 1],
        ['DELIVERED', 2],
      ]);
    }
    expect(onA.changes().map((c) => c.id)).toEqual(onB.changes().map((c) => c.id));
  });

  it("delivers another instance's sweeper changes", async () => {
    const registration = registrationBody({ deadline: PAST, status: 'DELIVERED' });
    const onA = await open(baseA, `?commandId=${registration.commandId as string}`);
    await register(a, registration);
    await b.app.get(DeadlineSweeper).sweep();
    const changes = await onA.waitForChanges(2);
    expect(changes.map((c) => [c.status, c.source, c.previousStatus])).toEqual([
      ['DELIVERED', 'registration', null],
      ['TIMEOUT', 'sweeper', 'DELIVERED'],
    ]);
  });

  it('replays after Last-Event-ID on the other instance', async () => {
    const body = callbackBody();
    await push(a, body);
    await push(a, { ...body, result: { resultCode: 'FAILED' } });
    const history = (
      await a.app.inject({ method: 'GET', url: `/commands/${body.commandId}` })
    ).json().history as { id: string }[];
    const onB = await open(baseB, `?commandId=${body.commandId}&lastEventId=${history[0].id}`);
    const [change] = await onB.waitForChanges(1);
    expect(change).toMatchObject({
      historyId: history[1].id,
      status: 'FAILED',
      previousStatus: 'SENT',
    });
  });
});

onPostgres('GET /changes while PostgreSQL is unreachable', () => {
  let database: TestDatabase;
  let proxy: FaultProxy;
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    proxy = await FaultProxy.start(database.url);
    t = await startTestApp({}, { ...database, url: proxy.url(database.url), drop: async () => {} });
    base = await listenUrl(t.app);
  });

  afterAll(async () => {
    await proxy.restore();
    await t.close();
    await proxy.close();
    await database.drop();
  });

  it('ends open streams, answers new ones 503, and streams again once the database is back', async () => {
    const open = await SseClient.open(`${base}/changes`);
    expect(open.status).toBe(200);
    proxy.cut();
    await open.waitUntil(() => open.ended, 10_000);

    const refused = await SseClient.open(`${base}/changes`);
    expect(refused.status).toBe(503);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(JSON.parse(await refused.body())).toMatchObject({ status: 503 });

    await proxy.restore();
    const until = Date.now() + 20_000;
    let client = await SseClient.open(`${base}/changes`);
    while (client.status !== 200 && Date.now() < until) {
      await client.body();
      client = await SseClient.open(`${base}/changes`);
    }
    expect(client.status).toBe(200);
    const body = callbackBody();
    const deadline = Date.now() + 20_000;
    for (;;) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/callbacks/command-status',
        payload: body,
      });
      if (response.statusCode === 200 || Date.now() > deadline) {
        expect(response.statusCode).toBe(200);
        break;
      }
      await sleep(200);
    }
    await client.waitForChanges(1, (c) => c.commandId === body.commandId);
    client.close();
  });
});
