import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Indexes for GET /commands?order=silent and updatedBefore, and for GET /analytics/counts:
 * - (status, updated_at, command_id), with device_id, service_id and method included: the
 *   longest-silent commands first, status by status (a page merges one ordered walk per status:
 *   an index led by updated_at would walk every long-finished command before the open ones), and
 *   the counts of open commands silent since a time, total, by device and by command, from the
 *   index alone (without the included columns, grouping 30,000 stuck commands of 1,000,000 reads
 *   them from the table, about 30 times slower);
 * - (service_id, method): counts grouped by command from the index alone.
 * Counts by status and by device read the indexes that lead with those columns already.
 * And an index on command_history (received_at) for the operations page's reports per minute,
 * exact whatever order reports were stored in (a backfill stores old reports with new ids). Times
 * mostly grow as reports are stored, so inserts land on its rightmost page. A BRIN index would be
 * smaller, but ranges stay unsummarized until a vacuum, and the embedded database has no
 * autovacuum: the chart then read the whole history.
 */
export class ReadFilterIndexes1796820000000 implements MigrationInterface {
  name = 'ReadFilterIndexes1796820000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX commands_status_updated_idx ON commands (status, updated_at, command_id)
         INCLUDE (device_id, service_id, method)`,
    );
    await queryRunner.query(`CREATE INDEX commands_command_idx ON commands (service_id, method)`);
    await queryRunner.query(
      `CREATE INDEX command_history_received_idx ON command_history (received_at)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX command_history_received_idx`);
    await queryRunner.query(`DROP INDEX commands_command_idx`);
    await queryRunner.query(`DROP INDEX commands_status_updated_idx`);
  }
}
