import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { type DestinationStream, type Logger as Pino } from 'pino';
import { DataSource } from 'typeorm';
import { AppModule } from './app.module.js';
import { type AppConfig } from './config/config.js';
import { EmbeddedPostgres } from './database/embedded-postgres.js';
import { runMigrations } from './database/migrate.js';
import { createLogger } from './logging/logger.js';
import { nestLogger } from './logging/nest-logger.js';
import { logRequests } from './logging/request-log.js';
import { answerFrameworkError } from './http/problem.filter.js';
import { refuseCallbacksWhileOverloaded } from './commands/admission.js';
import { GroupCommit } from './commands/group-commit.js';
import { CommandMetrics } from './metrics/command-metrics.js';
import { openApiDocument } from './http/openapi.js';
import { redactUrl } from './http/redact.js';
import { addSecurityHeaders } from './http/security-headers.js';
import { CAMPAIGN_BODY_LIMIT_BYTES } from './sending/campaigns.dto.js';

/** Where the service keeps its data: a PostgreSQL server, or the embedded one it started. */
export interface Database {
  url: string;
  poolSize: number;
  /** For logs: never the password. */
  description: string;
  embedded?: EmbeddedPostgres;
}

export async function openDatabase(config: AppConfig): Promise<Database> {
  if (config.databaseUrl !== undefined) {
    return {
      url: config.databaseUrl,
      poolSize: config.dbPoolSize,
      description: `PostgreSQL at ${redactUrl(config.databaseUrl)}`,
    };
  }
  const embedded = await EmbeddedPostgres.start(config.pgliteDataDir);
  return {
    url: embedded.url,
    // PGlite is a single session: one connection keeps transactions isolated.
    poolSize: 1,
    description:
      `embedded PostgreSQL (PGlite) in ${embedded.location}` +
      (embedded.pid === undefined ? '' : `, in process ${embedded.pid}`),
    embedded,
  };
}

// An incoming X-Request-Id is kept when it is short and printable; otherwise a new one is made.
const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Builds the whole service on a database, migrated; the caller listens (or injects, in tests).
 * Logs go to `logger` (main.ts's, made before the configuration was read), else to a new one at
 * LOG_LEVEL writing to `logDestination` (which tests give) or stdout.
 */
export async function createApp(
  config: AppConfig,
  database: Database,
  options: { logger?: Pino; logDestination?: DestinationStream } = {},
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    // Path ids are up to 128 characters, percent-encoded up to 12 bytes each (Fastify's default is 100).
    routerOptions: { maxParamLength: 2048 },
    genReqId: (request: { headers: Record<string, string | string[] | undefined> }) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Hung clients must not hold connections for ever; SSE streams are exempt from these.
    requestTimeout: 30_000,
    frameworkErrors: answerFrameworkError,
  });
  const fastify = adapter.getInstance();
  // POST /campaigns alone takes up to 100,000 device ids; every other route keeps BODY_LIMIT_BYTES.
  fastify.addHook('onRoute', (route) => {
    if (route.url === '/campaigns' && route.method === 'POST') {
      route.bodyLimit = Math.max(CAMPAIGN_BODY_LIMIT_BYTES, config.bodyLimitBytes);
    }
  });
  // Only JSON bodies are accepted; anything else is 415.
  fastify.removeContentTypeParser('text/plain');
  // The id in log lines and problem responses, given back so a client can quote it.
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });

  addSecurityHeaders(fastify);

  const logger = options.logger ?? createLogger(config.logLevel, options.logDestination);
  logRequests(fastify, logger);

  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, { url: database.url, poolSize: database.poolSize }),
    adapter,
    // bodyParser off: Fastify's own JSON parser is the only one, so form bodies are 415 too.
    // Nest logs through pino from its first line, so a failing start-up is logged as JSON too.
    // abortOnError off: a failure reaches the caller (main.ts logs what it means) instead of
    // Nest ending the process itself.
    { logger: nestLogger(logger), bodyParser: false, abortOnError: false },
  );
  // Routes are registered when the app is initialised, after this: the hook applies to them.
  refuseCallbacksWhileOverloaded(fastify, app.get(GroupCommit), app.get(CommandMetrics));

  const migrated = await runMigrations(app.get(DataSource));
  if (migrated.length > 0) {
    new Logger('Database').log(`Applied migrations: ${migrated.join(', ')}`);
  }

  const document = openApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return app;
}
