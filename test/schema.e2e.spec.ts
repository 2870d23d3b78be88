import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source.js';
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
});
