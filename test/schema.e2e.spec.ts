import { DataSource } from 'typeorm';
import { MIGRATIONS, dataSourceOptions } from '../src/database/data-source.js';
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
