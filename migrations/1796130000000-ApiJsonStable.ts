import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * command_api_json calls to_char, which PostgreSQL declares STABLE (its output can depend on
 * settings such as lc_time for some patterns), so the function is STABLE too: nothing may index or
 * constant-fold it as if its result could never change.
 */
export class ApiJsonStable1796130000000 implements MigrationInterface {
  name = 'ApiJsonStable1796130000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER FUNCTION command_api_json(commands) STABLE`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER FUNCTION command_api_json(commands) IMMUTABLE`);
  }
}
