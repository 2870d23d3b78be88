// The read benchmark's yardstick: the least a reader of the same tables can do. Plain Fastify and a
// pg Pool running the service's own read statements (src/commands/sql/read.ts), prepared under names,
// bodies sent as PostgreSQL renders them; no Nest, no validation beyond what a query needs, no
// response budget. Run: DATABASE_URL=... PORT=... node dist/bench/minimal-reader.js
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { pathToFileURL } from 'node:url';
import { FIND_WITH_HISTORY_SQL, listStatement } from '../src/commands/sql/read.js';

function keyset(apiJson: string): string {
  const { createdAt, commandId } = JSON.parse(apiJson) as { createdAt: string; commandId: string };
  return Buffer.from(JSON.stringify([createdAt, commandId])).toString('base64url');
}

function after(cursor: string | undefined): { at: Date; commandId: string } | undefined {
  if (cursor === undefined) {
    return undefined;
  }
  const [createdAt, commandId] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [
    string,
    string,
  ];
  return { at: new Date(createdAt), commandId };
}

export function buildMinimalReader(databaseUrl: string, poolSize: number) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize });
  const app: FastifyInstance = Fastify({ logger: false });
  app.get<{ Params: { commandId: string } }>('/commands/:commandId', async (request, reply) => {
    const { rows } = await pool.query<[string]>({
      name: 'find_with_history',
      text: FIND_WITH_HISTORY_SQL,
      values: [request.params.commandId],
      rowMode: 'array',
    });
    if (rows.length === 0) {
      return reply.status(404).send({ status: 404 });
    }
    return reply.type('application/json').send(rows[0][0]);
  });
  app.get<{ Querystring: { deviceId?: string; cursor?: string } }>(
    '/commands',
    async (request, reply) => {
      const statement = listStatement({
        deviceId: request.query.deviceId,
        after: after(request.query.cursor),
        limit: 50,
      });
      const { rows } = await pool.query<[string | null]>({ ...statement, rowMode: 'array' });
      const more = rows.length > 0 && rows[rows.length - 1][0] === null;
      const items = (more ? rows.slice(0, -1) : rows) as [string][];
      const next = more ? keyset(items[items.length - 1][0]) : null;
      return reply
        .type('application/json')
        .send(
          `{"items":[${items.map(([json]) => json).join(',')}],"nextCursor":${JSON.stringify(next)}}`,
        );
    },
  );
  app.get('/health/live', async () => ({ status: 'ok' }));
  return { app, pool };
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl === undefined) {
    throw new Error('DATABASE_URL is required');
  }
  const { app, pool } = buildMinimalReader(databaseUrl, Number(process.env.DB_POOL_SIZE ?? 10));
  await app.listen({ port: Number(process.env.PORT ?? 3002), host: '127.0.0.1' });
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
