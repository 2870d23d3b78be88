import { DataSource } from 'typeorm';
import { MIGRATIONS, dataSourceOptions } from '../src/database/data-source.js';
import {
  COMMAND_STATUSES,
  REPORT_OUTCOMES,
  REPORT_SOURCES,
  rankOf,
} from '../src/commands/command-status.js';
import { CommandApiJson1795690800000 } from '../migrations/1795690800000-CommandApiJson.js';
import { type TestDatabase, createTestDatabase } from './support/test-database.js';

describe('schema', () => {
  let database: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = new DataSource(dataSourceOptions({ url: database.url, poolSize: 1 }));
    await dataSource.initialize();
  });

  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
  });

  it('matches the entities, so migration:generate starts from no changes', async () => {
    const pending = await dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((query) => query.query)).toEqual([]);
  });

  // TypeORM's schema diff does not compare check expressions, so the lists are compared here.
  it.each([
    ['commands_status_check', COMMAND_STATUSES],
    ['command_history_outcome_check', REPORT_OUTCOMES],
    ['command_history_source_check', REPORT_SOURCES],
  ])('has %s allow exactly the values of command-status.ts', async (name, values) => {
    const [{ definition }] = await dataSource.query<{ definition: string }[]>(
      `SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conname = $1`,
      [name],
    );
    const allowed = [...definition.matchAll(/'([^']*)'/g)].map((match) => match[1]);
    expect(allowed.sort()).toEqual([...values].sort());
  });

  it('has the rank check span exactly the ranks of command-status.ts', async () => {
    const ranks = COMMAND_STATUSES.map(rankOf);
    const [{ definition }] = await dataSource.query<{ definition: string }[]>(
      `SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint
       WHERE conname = 'commands_rank_check'`,
    );
    expect(definition).toBe(
      `CHECK (((rank >= ${Math.min(...ranks)}) AND (rank <= ${Math.max(...ranks)})))`,
    );
  });

  it('declares functions with honest volatility: to_char makes command_api_json STABLE', async () => {
    const [{ volatility }] = await dataSource.query<{ volatility: string }[]>(
      `SELECT provolatile AS volatility FROM pg_proc WHERE proname = 'command_api_json'`,
    );
    expect(volatility).toBe('s');
  });

  it('has every migration applied', async () => {
    expect(await dataSource.showMigrations()).toBe(false);
  });

  describe("a command's stored JSON (api_json)", () => {
    const insert = (commandId: string) =>
      dataSource.query(
        `INSERT INTO commands (command_id, device_id, status, rank, result_detail, service_id,
           method, paras, created_at, updated_at, deadline, sent_at, version)
         VALUES ($1, 'dev "1"', 'SENT', 1, NULL, 'Meter', NULL, '{"a": [1, "ü"]}',
           '2026-01-02T03:04:05.006Z', '2026-01-02T03:04:05.006Z', '2026-01-03T00:00:00Z',
           '2026-01-02T03:04:05.1Z', 1)`,
        [commandId],
      );
    const stored = async (commandId: string): Promise<string> => {
      const rows: { api_json: string }[] = await dataSource.query(
        `SELECT api_json FROM commands WHERE command_id = $1`,
        [commandId],
      );
      return rows[0].api_json;
    };
    const expected = (commandId: string, changes: Record<string, unknown> = {}) =>
      JSON.stringify({
        commandId,
        deviceId: 'dev "1"',
        status: 'SENT',
        resultDetail: null,
        serviceId: 'Meter',
        method: null,
        paras: { a: [1, 'ü'] },
        createdAt: '2026-01-02T03:04:05.006Z',
        updatedAt: '2026-01-02T03:04:05.006Z',
        deadline: '2026-01-03T00:00:00.000Z',
        sentAt: '2026-01-02T03:04:05.100Z',
        deliveredAt: null,
        completedAt: null,
        version: 1,
        ...changes,
      })
        // jsonb writes a space after ':' and ',' in the values it stores.
        .replace('"paras":{"a":[1,"ü"]}', '"paras":{"a": [1, "ü"]}');

    it('is written on insert and on every update, by any writer', async () => {
      await insert('api-json-1');
      expect(await stored('api-json-1')).toBe(expected('api-json-1'));

      await dataSource.query(
        `UPDATE commands SET status = 'FAILED', rank = 4, result_detail = '{"r": "x\\"y"}',
           completed_at = '2026-01-02T03:04:06Z', version = 2
         WHERE command_id = 'api-json-1'`,
      );
      expect(JSON.parse(await stored('api-json-1'))).toEqual(
        JSON.parse(
          expected('api-json-1', {
            status: 'FAILED',
            resultDetail: { r: 'x"y' },
            completedAt: '2026-01-02T03:04:06.000Z',
            version: 2,
          }),
        ),
      );
    });

    it('cannot be set by hand: the trigger renders it again', async () => {
      await insert('api-json-2');
      await dataSource.query(`UPDATE commands SET api_json = '{}' WHERE command_id = 'api-json-2'`);
      expect(await stored('api-json-2')).toBe(expected('api-json-2'));
    });

    it('is filled in for commands that existed before its migration, and the migration reverts', async () => {
      // Back to just before CommandApiJson: every later migration is reverted first.
      const later = MIGRATIONS.length - MIGRATIONS.indexOf(CommandApiJson1795690800000);
      for (let undone = 0; undone < later; undone++) {
        await dataSource.undoLastMigration();
      }
      const columns: unknown[] = await dataSource.query(
        `SELECT 1 FROM information_schema.columns
         WHERE table_name = 'commands' AND column_name = 'api_json'`,
      );
      expect(columns).toHaveLength(0);
      await insert('api-json-3');

      await dataSource.runMigrations();
      expect(await stored('api-json-3')).toBe(expected('api-json-3'));
      expect(await dataSource.showMigrations()).toBe(false);
    });
  });
});
