import { DataSource } from 'typeorm';
import { DatabaseClient } from '../../src/database/data-source.js';
import { writeLimits } from '../../src/commands/group-commit.js';
import { type TestApp, startTestApp } from '../support/test-app.js';
import { callbackBody } from '../support/factories.js';
import { eventually } from '../support/eventually.js';
import { type TestDatabase, createTestDatabase, serverUrl } from '../support/test-database.js';

// The connection watchdog counts the queries handed to a client until the server is ready for the
// next one ('drain'); a count that drifts up would make it cut healthy idle connections, one that
// drifts down would leave hung ones alone.
describe('DatabaseClient', () => {
  let db: TestDatabase;
  let client: DatabaseClient;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db.drop();
  });

  beforeEach(async () => {
    client = new DatabaseClient({ connectionString: db.url });
    await client.connect();
  });

  afterEach(async () => {
    await client.end().catch(() => undefined);
  });

  it.each([
    ['a query that succeeds', (c: DatabaseClient) => c.query('SELECT 1')],
    ['a query that fails', (c: DatabaseClient) => c.query('SELECT * FROM no_such_table')],
    [
      'a query with parameters',
      (c: DatabaseClient) => c.query({ text: 'SELECT $1::int AS n', values: [1] }),
    ],
    [
      'a query answered through a callback',
      (c: DatabaseClient) =>
        new Promise<void>((resolve) => {
          c.query('SELECT 1', () => resolve());
        }),
    ],
  ])('counts %s as pending until the server is ready again, then not at all', async (_, run) => {
    const settled = (run(client) as Promise<unknown>).catch(() => undefined);
    expect(client.pendingQueries).toBe(1);
    await settled;
    // A failed query settles on the server's error, just before it says it is ready again.
    await eventually(
      () => client.pendingQueries === 0,
      1000,
      () => 'still pending',
    );
  });

  it('counts nothing pending after queries queued behind each other settle, some failing', async () => {
    await Promise.allSettled([
      client.query('SELECT pg_sleep(0.05)'),
      client.query('SELECT * FROM no_such_table'),
      client.query('SELECT 2'),
    ]);
    await eventually(
      () => client.pendingQueries === 0,
      1000,
      () => 'still pending',
    );
  });

  it('counts nothing pending after a query on a closed client is refused', async () => {
    await client.end();
    await expect(client.query('SELECT 1')).rejects.toThrow();
    expect(client.pendingQueries).toBe(0);
  });
});

describe('writeLimits', () => {
  it.each([
    [10, false, 2],
    [5, false, 2],
    [4, false, 2],
    [3, false, 1],
    [1, false, 1],
    [10, true, 1],
  ])('with a pool of %i (embedded: %s) runs %i batches at once', (pool, embedded, batches) => {
    expect(writeLimits(pool, embedded).maxBatchesInFlight).toBe(batches);
  });
});

// Embedded-ness comes from the configuration, not from the pool size: a pool of one connection to
// PostgreSQL still prepares the write path's statements.
const describeOnServer = serverUrl() !== undefined ? describe : describe.skip;

describeOnServer('a pool of one connection to PostgreSQL', () => {
  let t: TestApp;

  beforeAll(async () => {
    const db = await createTestDatabase();
    t = await startTestApp({ groupCommit: true }, { ...db, poolSize: 1 });
  });

  afterAll(async () => {
    await t.close();
    await t.database.drop();
  });

  it('prepares the write path statements once, as with a larger pool', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/callbacks/command-status',
      payload: callbackBody(),
    });
    expect(response.statusCode).toBe(200);
    // The pool's one connection is the one that applied the report.
    const prepared = await t.app
      .get(DataSource)
      .query<{ name: string }[]>('SELECT name FROM pg_prepared_statements ORDER BY name');
    expect(prepared.map((row) => row.name)).toContain('apply_batch');
  });
});
