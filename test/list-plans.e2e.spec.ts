import pg from 'pg';
import { type ListFilter, listStatement } from '../src/commands/sql/read.js';
import { type TestDatabase, createTestDatabase } from './support/test-database.js';

// A named list statement is planned once per connection, not on every execution: planning a page
// costs more than running it. PostgreSQL keeps re-planning a prepared statement while its estimate
// of a plan for the actual values beats that of the generic plan.
describe('list statements on a table of some size', () => {
  let database: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    // Enough rows for the estimates to differ by value, as they do on a production table.
    await client.query(
      `INSERT INTO commands (command_id, device_id, status, rank, created_at, updated_at, deadline,
         version)
       SELECT 'plan-' || g, 'plan-device-' || (g % 100), 'SENT', 1,
              '2026-01-01'::timestamptz + g * interval '1 s',
              '2026-01-01'::timestamptz + g * interval '1 s', '2027-01-01', 1
       FROM generate_series(1, 50000) g`,
    );
    await client.query(`ANALYZE commands`);
  });

  afterAll(async () => {
    await client.end();
    await database.drop();
  });

  async function plansAfter(filter: ListFilter, runs: number) {
    const statement = listStatement(filter);
    for (let run = 0; run < runs; run++) {
      await client.query({ name: statement.name, text: statement.text, values: statement.values });
    }
    const { rows } = await client.query<{ generic_plans: string; custom_plans: string }>(
      `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1`,
      [statement.name],
    );
    return { generic: Number(rows[0].generic_plans), custom: Number(rows[0].custom_plans) };
  }

  it('plans a page after a cursor once', async () => {
    // 5,000 rows from the newest end, where the pages people read are. With the keyset as plain
    // parameters, every run here would be planned anew.
    const after = { at: new Date('2026-01-01T12:30:00Z'), commandId: 'plan-45000' };
    // PostgreSQL tries five custom plans first, then settles on the generic one if it is no worse.
    expect(await plansAfter({ after, limit: 50 }, 20)).toEqual({ generic: 15, custom: 5 });
  });

  it("plans a device's page once", async () => {
    expect(await plansAfter({ deviceId: 'plan-device-7', limit: 50 }, 20)).toEqual({
      generic: 15,
      custom: 5,
    });
  });

  it('plans the first page once: it has no parameters', async () => {
    expect(await plansAfter({ limit: 50 }, 20)).toEqual({ generic: 20, custom: 0 });
  });
});
