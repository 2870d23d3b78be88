import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Commands and their append-only history of reports.
 * Timestamps keep milliseconds only (timestamptz(3)), so that the keyset cursor, which carries a
 * JavaScript Date, compares exactly. Ids compare bytewise (COLLATE "C") for the same reason and speed.
 */
export class InitialSchema1764133200000 implements MigrationInterface {
  name = 'InitialSchema1764133200000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE commands (
        command_id    text COLLATE "C" PRIMARY KEY,
        device_id     text COLLATE "C" NOT NULL,
        status        text NOT NULL,
        rank          smallint NOT NULL,
        result_detail jsonb,
        service_id    text,
        method        text,
        paras         jsonb,
        created_at    timestamptz(3) NOT NULL,
        updated_at    timestamptz(3) NOT NULL,
        deadline      timestamptz(3) NOT NULL,
        sent_at       timestamptz(3),
        delivered_at  timestamptz(3),
        completed_at  timestamptz(3),
        version       integer NOT NULL,
        CONSTRAINT commands_status_check CHECK (status IN
          ('PENDING','SENT','DELIVERED','TIMEOUT','EXPIRED','CANCELED','SUCCESSFUL','FAILED')),
        CONSTRAINT commands_rank_check CHECK (rank BETWEEN 0 AND 4)
      )`);
    // The unfiltered list, newest first, with the keyset (created_at, command_id).
    await queryRunner.query(
      `CREATE INDEX commands_created_idx ON commands (created_at DESC, command_id DESC)`,
    );
    // A device's commands, newest first.
    await queryRunner.query(
      `CREATE INDEX commands_device_created_idx ON commands (device_id, created_at DESC, command_id DESC)`,
    );
    // Commands in a status, newest first.
    await queryRunner.query(
      `CREATE INDEX commands_status_created_idx ON commands (status, created_at DESC, command_id DESC)`,
    );
    // Overdue commands still waiting for an answer (the sweeper).
    await queryRunner.query(
      `CREATE INDEX commands_open_deadline_idx ON commands (deadline) WHERE rank < 3`,
    );
    // Finished commands by age (retention).
    await queryRunner.query(
      `CREATE INDEX commands_finished_updated_idx ON commands (updated_at) WHERE rank >= 3`,
    );

    await queryRunner.query(`
      CREATE TABLE command_history (
        id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        command_id      text COLLATE "C" NOT NULL REFERENCES commands (command_id) ON DELETE CASCADE,
        status          text NOT NULL,
        outcome         text NOT NULL,
        source          text NOT NULL,
        previous_status text,
        version         integer NOT NULL,
        result_detail   jsonb,
        payload         jsonb,
        received_at     timestamptz(3) NOT NULL,
        CONSTRAINT command_history_outcome_check CHECK (outcome IN ('applied','duplicate','stale','conflict')),
        CONSTRAINT command_history_source_check CHECK (source IN ('callback','registration','sweeper'))
      )`);
    await queryRunner.query(
      `CREATE INDEX command_history_command_idx ON command_history (command_id, id)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE command_history`);
    await queryRunner.query(`DROP TABLE commands`);
  }
}
