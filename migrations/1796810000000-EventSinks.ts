import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * event_sinks: one row per sink the change feed is delivered to (amqp, nats, webhook): the last
 * feed position the sink confirmed, and the lease of the one instance that feeds it. The lease is
 * a row rather than an advisory lock because the embedded database has a single shared session.
 */
export class EventSinks1796810000000 implements MigrationInterface {
  name = 'EventSinks1796810000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE event_sinks (
        sink text PRIMARY KEY,
        position_xid bigint NOT NULL,
        position_id bigint NOT NULL,
        confirmed_at timestamptz,
        holder text,
        lease_until timestamptz NOT NULL DEFAULT '-infinity'
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE event_sinks`);
  }
}
