import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * The per-device queue of /dispatches: one row per dispatch, claimed by one instance at a time
 * with a lease; `call_started_at` is set while a platform call may be in flight, and `intent_id`
 * is the dispatch intent of an asynchronous call, which reconciliation settles when that call's
 * answer was lost. Budget row 2 is DISPATCH_RATE's.
 */
export class Dispatches1796720000000 implements MigrationInterface {
  name = 'Dispatches1796720000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE dispatches (
        dispatch_id     text COLLATE "C" NOT NULL,
        seq             bigint GENERATED ALWAYS AS IDENTITY,
        idempotency_key text COLLATE "C",
        request_hash    text NOT NULL,
        device_id       text COLLATE "C" NOT NULL,
        service_id      text NOT NULL,
        method          text NOT NULL,
        paras           jsonb NOT NULL,
        timeout_seconds integer,
        send_strategy   text NOT NULL,
        mode            text NOT NULL,
        replace_key     text COLLATE "C",
        campaign_id     text COLLATE "C",
        not_before      timestamptz(3) NOT NULL,
        send_by         timestamptz(3) NOT NULL,
        state           text NOT NULL,
        next_attempt_at timestamptz(3) NOT NULL,
        lease_until     timestamptz(3),
        call_started_at timestamptz(3),
        intent_id       bigint,
        command_id      text COLLATE "C",
        attempts        jsonb NOT NULL DEFAULT '[]',
        created_at      timestamptz(3) NOT NULL,
        updated_at      timestamptz(3) NOT NULL,
        CONSTRAINT dispatches_pkey PRIMARY KEY (dispatch_id),
        CONSTRAINT dispatches_state_check CHECK (state IN
          ('queued','sending','sent','failed','expired','canceled','superseded')),
        CONSTRAINT dispatches_mode_check CHECK (mode IN ('async','sync'))
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX dispatches_idempotency_key_idx ON dispatches (idempotency_key)`,
    );
    // The poll loop's due rows, and the sweep of leases that ran out.
    await queryRunner.query(
      `CREATE INDEX dispatches_due_idx ON dispatches (next_attempt_at) WHERE state = 'queued'`,
    );
    await queryRunner.query(
      `CREATE INDEX dispatches_leased_idx ON dispatches (lease_until) WHERE state = 'sending'`,
    );
    // A device's open dispatches in creation order: who is next, and what a replaceKey replaces.
    await queryRunner.query(
      `CREATE INDEX dispatches_device_open_idx ON dispatches (device_id, seq)
         WHERE state IN ('queued','sending')`,
    );
    // A device's sent dispatches, for its open commands.
    await queryRunner.query(
      `CREATE INDEX dispatches_device_sent_idx ON dispatches (device_id) WHERE state = 'sent'`,
    );
    await queryRunner.query(
      `CREATE INDEX dispatches_list_idx ON dispatches (created_at DESC, dispatch_id DESC)`,
    );
    await queryRunner.query(
      `CREATE INDEX dispatches_device_list_idx ON dispatches (device_id, created_at DESC, dispatch_id DESC)`,
    );
    await queryRunner.query(
      `CREATE INDEX dispatches_campaign_idx ON dispatches (campaign_id) WHERE campaign_id IS NOT NULL`,
    );
    await queryRunner.query(
      `INSERT INTO platform_call_budget (id, tokens, refilled_at) VALUES (2, 0, now())`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM platform_call_budget WHERE id = 2`);
    await queryRunner.query(`DROP TABLE dispatches`);
  }
}
