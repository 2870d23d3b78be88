// The benchmark's yardstick: the least a callback endpoint can do. Plain Fastify and a pg Pool, the
// service's own checks of ids and resultCode, and the service's transition statement; no Nest, no
// class-validator, no TypeORM. Run: DATABASE_URL=... PORT=... node dist/bench/baseline.js
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { pathToFileURL } from 'node:url';
import { isCommandStatus, rankOf } from '../src/commands/command-status.js';
import { APPLY_REPORT_SQL } from '../src/commands/commands.repository.js';
import { identifierProblem, unstorableJson } from '../src/http/json-checks.js';

export interface BaselineOptions {
  databaseUrl: string;
  poolSize: number;
  deadlineSeconds: number;
}

interface ApplyRow {
  outcome: string;
  mismatch: string | null;
  status: string | null;
  event_id: string | null;
}

function problem(status: number, title: string, detail: string) {
  return { type: 'about:blank', title, status, detail };
}

function bodyProblem(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return 'body must be a JSON object';
  }
  const { deviceId, commandId, result } = body as Record<string, unknown>;
  const idProblem = identifierProblem(deviceId) ?? identifierProblem(commandId);
  if (idProblem !== undefined) {
    return `id ${idProblem}`;
  }
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    return 'result must be an object';
  }
  if (!isCommandStatus((result as Record<string, unknown>).resultCode)) {
    return 'result.resultCode is not a status';
  }
  return unstorableJson(body, '')?.message;
}

export function buildBaseline(options: BaselineOptions): { app: FastifyInstance; pool: pg.Pool } {
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: options.poolSize,
    statement_timeout: 3000,
  });
  const app = Fastify({ bodyLimit: 65536 });
  app.post('/callbacks/command-status', async (request, reply) => {
    const invalid = bodyProblem(request.body);
    if (invalid !== undefined) {
      return reply
        .status(400)
        .type('application/problem+json')
        .send(problem(400, 'Bad Request', invalid));
    }
    const body = request.body as {
      deviceId: string;
      commandId: string;
      result: { resultCode: Parameters<typeof rankOf>[0]; resultDetail?: unknown };
    };
    const detail = body.result.resultDetail;
    const params = [
      body.commandId,
      body.deviceId,
      body.result.resultCode,
      rankOf(body.result.resultCode),
      detail === undefined || detail === null ? null : JSON.stringify(detail),
      JSON.stringify(body),
      'callback',
      null,
      null,
      null,
      null,
      null,
      options.deadlineSeconds,
    ];
    try {
      for (let attempt = 1; attempt <= 3; attempt++) {
        const { rows } = await pool.query<ApplyRow>(APPLY_REPORT_SQL, params);
        const row = rows[0];
        if (row.mismatch !== null) {
          return reply
            .status(409)
            .type('application/problem+json')
            .send(problem(409, 'Conflict', `known with another ${row.mismatch}`));
        }
        if (row.event_id !== null) {
          return {
            commandId: body.commandId,
            status: row.status,
            outcome: row.outcome === 'created' ? 'applied' : row.outcome,
          };
        }
      }
      throw new Error('lost creation races');
    } catch {
      return reply
        .status(503)
        .type('application/problem+json')
        .send(problem(503, 'Service Unavailable', 'not stored'));
    }
  });
  app.get('/health/live', async () => ({ status: 'ok' }));
  return { app, pool };
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl === undefined) {
    throw new Error('DATABASE_URL is required');
  }
  const { app, pool } = buildBaseline({
    databaseUrl,
    poolSize: Number(process.env.DB_POOL_SIZE ?? 10),
    deadlineSeconds: 172800,
  });
  await app.listen({ port: Number(process.env.PORT ?? 3001), host: '127.0.0.1' });
  const stop = () => {
    void app
      .close()
      .then(() => pool.end())
      .then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
