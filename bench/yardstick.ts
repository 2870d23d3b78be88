// The yardstick for callback throughput: what a team would write instead of adopting the service.
// Plain Fastify and a pg pool of 10, a minimal check of the body, and one statement per report
// (an upsert with a rank guard plus one history insert) on two tables of its own; no NOTIFY, no
// trigger, no framework. A port of ../shared/baseline/minimal-handler.cjs, statement and schema
// unchanged. Run: DATABASE_URL=... PORT=... node dist/bench/yardstick.js (on a database prepared
// with YARDSTICK_SCHEMA_SQL).
import Fastify from 'fastify';
import pg from 'pg';
import { pathToFileURL } from 'node:url';

export const YARDSTICK_SCHEMA_SQL = `
DROP TABLE IF EXISTS command_events; DROP TABLE IF EXISTS commands;
CREATE TABLE commands (
  command_id text PRIMARY KEY,
  device_id text NOT NULL,
  status text NOT NULL,
  status_rank smallint NOT NULL,
  result_detail jsonb,
  version int NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX commands_device_created ON commands (device_id, created_at DESC, command_id);
CREATE TABLE command_events (
  id bigserial PRIMARY KEY,
  command_id text NOT NULL,
  status text NOT NULL,
  outcome text NOT NULL,
  result_detail jsonb,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX command_events_command ON command_events (command_id, id);`;

const RANK: Record<string, number> = {
  PENDING: 0,
  SENT: 1,
  DELIVERED: 2,
  TIMEOUT: 3,
  EXPIRED: 3,
  CANCELED: 3,
  SUCCESSFUL: 4,
  FAILED: 4,
};

const SQL = `WITH up AS (
  INSERT INTO commands AS c (command_id, device_id, status, status_rank, result_detail)
  VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (command_id) DO UPDATE
    SET status = EXCLUDED.status, status_rank = EXCLUDED.status_rank, result_detail = EXCLUDED.result_detail,
        version = c.version + 1, updated_at = now()
    WHERE c.status_rank < EXCLUDED.status_rank
  RETURNING c.version
)
INSERT INTO command_events (command_id, status, outcome, result_detail)
SELECT $1, $3, CASE WHEN EXISTS (SELECT 1 FROM up) THEN 'applied' ELSE 'ignored' END, $5
RETURNING outcome`;

interface Callback {
  deviceId?: unknown;
  commandId?: unknown;
  result?: { resultCode?: unknown; resultDetail?: unknown } | null;
}

export async function startYardstick(databaseUrl: string, port: number): Promise<void> {
  const fastify = Fastify({ logger: false, bodyLimit: 65536 });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  fastify.post('/callbacks/command-status', async (request, reply) => {
    const body = request.body as Callback | null;
    const result = body?.result;
    if (
      !body ||
      typeof body.deviceId !== 'string' ||
      typeof body.commandId !== 'string' ||
      !result ||
      typeof result.resultCode !== 'string' ||
      !(result.resultCode in RANK)
    ) {
      return reply.code(400).send({ error: 'bad request' });
    }
    try {
      const { rows } = await pool.query<{ outcome: string }>({
        name: 'transition',
        text: SQL,
        values: [
          body.commandId,
          body.deviceId,
          result.resultCode,
          RANK[result.resultCode],
          JSON.stringify(result.resultDetail ?? null),
        ],
      });
      return { outcome: rows[0].outcome };
    } catch {
      return reply.code(503).send({ error: 'unavailable' });
    }
  });
  fastify.get('/health/live', async () => ({ status: 'ok' }));
  await fastify.listen({ port, host: '127.0.0.1' });
}

/**
 * The yardstick's traffic (../shared/baseline/load.cjs): random command ids over 2,000,000,
 * devices over 20,000, statuses SENT, DELIVERED, SUCCESSFUL in turn. Seeded, so that every target
 * gets the same sequence.
 */
export class YardstickTraffic {
  private n = 0;
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }

  private random(): number {
    // xorshift32: cheap, and the same sequence for every target.
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 0x100000000;
  }

  body(): string {
    this.n++;
    const command = Math.floor(this.random() * 2_000_000);
    const code = ['SENT', 'DELIVERED', 'SUCCESSFUL'][this.n % 3];
    return JSON.stringify({
      deviceId: `dev-${command % 20_000}`,
      commandId: `cmd-${command}`,
      result: {
        resultCode: code,
        resultDetail: this.n % 3 === 2 ? { outcome: 'ok', value: this.n } : null,
      },
    });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl === undefined) {
    throw new Error('DATABASE_URL is required');
  }
  await startYardstick(databaseUrl, Number(process.env.PORT ?? 3901));
}
