import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Drops dispatches_campaign_idx (campaign_id): dispatches_campaign_seq_idx (campaign_id, seq)
 * serves every query it served, and each index costs a campaign's creation a write per device
 * (100,000 at once).
 */
export class CampaignDispatchIndex1796830000000 implements MigrationInterface {
  name = 'CampaignDispatchIndex1796830000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX dispatches_campaign_idx`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX dispatches_campaign_idx ON dispatches (campaign_id) WHERE campaign_id IS NOT NULL`,
    );
  }
}
