import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * A campaign's dispatches still held for release, in device order: the releaser's pass (every
 * 50 ms while a campaign runs) takes the next few from it, instead of walking the campaign's
 * dispatches from the first and skipping the released ones, which cost in proportion to how
 * far the campaign had got (50,000 rows skipped per pass half-way through 100,000 devices).
 * dispatches_campaign_idx (campaign_id) goes: dispatches_campaign_seq_idx (campaign_id, seq)
 * serves every query it served, and each index costs a campaign's creation a write per device.
 */
export class CampaignDispatchIndex1796830000000 implements MigrationInterface {
  name = 'CampaignDispatchIndex1796830000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX dispatches_campaign_held_idx ON dispatches (campaign_id, seq)
         WHERE campaign_id IS NOT NULL AND state = 'queued' AND released_at IS NULL`,
    );
    await queryRunner.query(`DROP INDEX dispatches_campaign_idx`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX dispatches_campaign_idx ON dispatches (campaign_id) WHERE campaign_id IS NOT NULL`,
    );
    await queryRunner.query(`DROP INDEX dispatches_campaign_held_idx`);
  }
}
