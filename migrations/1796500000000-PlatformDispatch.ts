import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * What dispatch and reconciliation keep: each dispatch's intent, written before the platform is
 * called (with its Idempotency-Key and first answer); the shared budget of platform calls a
 * second for reconciliation (one token-bucket row); and when each command was last looked up on
 * the platform.
 */
export class PlatformDispatch1796500000000 implements MigrationInterface {
  name = 'PlatformDispatch1796500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE dispatch_intents (
        id              bigint GENERATED ALWAYS AS IDENTITY,
        idempotency_key text COLLATE "C",
        request_hash    text NOT NULL,
        device_id       text COLLATE "C" NOT NULL,
        service_id      text NOT NULL,
        method          text NOT NULL,
        paras           jsonb NOT NULL,
        timeout_seconds integer,
        state           text NOT NULL,
        command_id      text COLLATE "C",
        answer_status   smallint,
        answer_body     text,
        created_at      timestamptz(3) NOT NULL,
        updated_at      timestamptz(3) NOT NULL,
        CONSTRAINT dispatch_intents_pkey PRIMARY KEY (id),
        CONSTRAINT dispatch_intents_state_check CHECK (state IN
          ('calling','created','refused','lost','abandoned'))
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX dispatch_intents_idempotency_key_idx ON dispatch_intents (idempotency_key)`,
    );
    // One intent per platform command: two instances cannot both claim a found command.
    await queryRunner.query(
      `CREATE UNIQUE INDEX dispatch_intents_command_id_idx ON dispatch_intents (command_id)`,
    );
    // Dispatches whose answer was lost (or whose caller died), for reconciliation to search.
    await queryRunner.query(
      `CREATE INDEX dispatch_intents_unresolved_idx ON dispatch_intents (created_at)
         WHERE state IN ('calling','lost')`,
    );
    await queryRunner.query(`
      CREATE TABLE platform_call_budget (
        id          smallint NOT NULL,
        tokens      double precision NOT NULL,
        refilled_at timestamptz NOT NULL,
        CONSTRAINT platform_call_budget_pkey PRIMARY KEY (id)
      )`);
    await queryRunner.query(
      `INSERT INTO platform_call_budget (id, tokens, refilled_at) VALUES (1, 0, now())`,
    );
    await queryRunner.query(`
      CREATE TABLE command_reconciliations (
        command_id text COLLATE "C" NOT NULL,
        checked_at timestamptz(3) NOT NULL,
        CONSTRAINT command_reconciliations_pkey PRIMARY KEY (command_id),
        CONSTRAINT command_reconciliations_command_id_fkey FOREIGN KEY (command_id)
          REFERENCES commands (command_id) ON DELETE CASCADE
      )`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE command_reconciliations`);
    await queryRunner.query(`DROP TABLE platform_call_budget`);
    await queryRunner.query(`DROP TABLE dispatch_intents`);
  }
}
