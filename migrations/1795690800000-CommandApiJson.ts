import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Each command's JSON as API.md gives it (without its history), kept in the column api_json and
 * rendered by a trigger on every insert and update, whoever writes. A list page then sends 50
 * stored texts instead of rendering 50 objects per request: rendering, above all `to_char` for six
 * times per command, was most of PostgreSQL's time on a page (bench/RESULTS.md). The price is
 * space: the column holds about twice as much as the rest of the row (the bench's million
 * commands: 651 MB of heap instead of 223 MB), and the rendering on every write.
 *
 * A trigger rather than a generated column: TypeORM keeps a generated column's expression in its
 * own table under the database's name, so a copy of the database under another name (a restored
 * backup, the tests' template databases) would make migration:generate drop and re-add it.
 *
 * `command_api_json` depends on its argument only (explicit time zone and format, no locale- or
 * DateStyle-dependent formatting). Keys are in API.md's order, without whitespace; jsonb values
 * are written as stored. The helpers below repeat isoTime() and jsonObject() of
 * commands.repository.ts on purpose: a migration must write the same SQL whatever later becomes
 * of the application's code.
 */
const time = (column: string) =>
  `'"' || to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '"'`;

const FIELDS: [key: string, json: string][] = [
  ['commandId', 'to_json(c.command_id)::text'],
  ['deviceId', 'to_json(c.device_id)::text'],
  ['status', 'to_json(c.status)::text'],
  ['resultDetail', 'c.result_detail::text'],
  ['serviceId', 'to_json(c.service_id)::text'],
  ['method', 'to_json(c.method)::text'],
  ['paras', 'c.paras::text'],
  ['createdAt', time('c.created_at')],
  ['updatedAt', time('c.updated_at')],
  ['deadline', time('c.deadline')],
  ['sentAt', time('c.sent_at')],
  ['deliveredAt', time('c.delivered_at')],
  ['completedAt', time('c.completed_at')],
  ['version', 'c.version::text'],
];

export class CommandApiJson1795690800000 implements MigrationInterface {
  name = 'CommandApiJson1795690800000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    const body = FIELDS.map(
      ([key, json], index) => `'${index === 0 ? '{' : ','}"${key}":' || COALESCE(${json}, 'null')`,
    )
      .concat(`'}'`)
      .join('\n      || ');
    await queryRunner.query(`
      CREATE FUNCTION command_api_json(c commands) RETURNS text
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
      BEGIN
        RETURN ${body};
      END $$`);
    await queryRunner.query(`ALTER TABLE commands ADD COLUMN api_json text`);
    // Rewrites every row: on a large table, run it in a quiet hour.
    await queryRunner.query(`UPDATE commands c SET api_json = command_api_json(c)`);
    await queryRunner.query(`ALTER TABLE commands ALTER COLUMN api_json SET NOT NULL`);
    await queryRunner.query(`
      CREATE FUNCTION commands_render_api_json() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.api_json := command_api_json(NEW);
        RETURN NEW;
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER commands_api_json BEFORE INSERT OR UPDATE ON commands
      FOR EACH ROW EXECUTE FUNCTION commands_render_api_json()`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER commands_api_json ON commands`);
    await queryRunner.query(`DROP FUNCTION commands_render_api_json`);
    await queryRunner.query(`ALTER TABLE commands DROP COLUMN api_json`);
    await queryRunner.query(`DROP FUNCTION command_api_json`);
  }
}
