import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Campaigns: one command to many devices, each device a dispatch with `campaign_id` set. A
 * campaign row holds its own release budget (`tokens`, refilled at `rate_per_minute`), taken from
 * under the row's lock, so the instances together release at that rate. A dispatch not released
 * yet is queued with `released_at` NULL and `next_attempt_at` far in the future; `released`
 * counts the released ones, for the canary.
 */
export class Campaigns1796800000000 implements MigrationInterface {
  name = 'Campaigns1796800000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE campaigns (
        campaign_id     text COLLATE "C" NOT NULL,
        idempotency_key text COLLATE "C",
        request_hash    text NOT NULL,
        name            text NOT NULL,
        command         jsonb NOT NULL,
        rate_per_minute integer NOT NULL,
        canary          jsonb,
        abort           jsonb,
        start_at        timestamptz(3),
        end_at          timestamptz(3),
        state           text NOT NULL,
        abort_reason    text,
        devices         integer NOT NULL,
        canary_passed   boolean NOT NULL DEFAULT false,
        released        integer NOT NULL DEFAULT 0,
        tokens          float8 NOT NULL DEFAULT 1,
        refilled_at     timestamptz(3),
        created_at      timestamptz(3) NOT NULL,
        updated_at      timestamptz(3) NOT NULL,
        CONSTRAINT campaigns_pkey PRIMARY KEY (campaign_id),
        CONSTRAINT campaigns_state_check CHECK (state IN
          ('scheduled','running','paused','completed','aborted','canceled'))
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX campaigns_idempotency_key_idx ON campaigns (idempotency_key)`,
    );
    await queryRunner.query(
      `CREATE INDEX campaigns_list_idx ON campaigns (created_at DESC, campaign_id DESC)`,
    );
    await queryRunner.query(
      `CREATE INDEX campaigns_state_list_idx ON campaigns (state, created_at DESC, campaign_id DESC)`,
    );
    await queryRunner.query(`ALTER TABLE dispatches ADD COLUMN released_at timestamptz(3)`);
    // A campaign's dispatches in device order: what to release next, its counts, its retries.
    await queryRunner.query(
      `CREATE INDEX dispatches_campaign_seq_idx ON dispatches (campaign_id, seq)
         WHERE campaign_id IS NOT NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX dispatches_campaign_seq_idx`);
    await queryRunner.query(`ALTER TABLE dispatches DROP COLUMN released_at`);
    await queryRunner.query(`DROP TABLE campaigns`);
  }
}
