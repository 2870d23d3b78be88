import { Socket } from 'node:net';
import pg from 'pg';
import { type DataSourceOptions } from 'typeorm';
import { InitialSchema1764133200000 } from '../../migrations/1764133200000-InitialSchema.js';
import { CommandApiJson1795690800000 } from '../../migrations/1795690800000-CommandApiJson.js';
import { PlatformSources1796120000000 } from '../../migrations/1796120000000-PlatformSources.js';
import { ApiJsonStable1796130000000 } from '../../migrations/1796130000000-ApiJsonStable.js';
import { HistoryTransactionIds1796400000000 } from '../../migrations/1796400000000-HistoryTransactionIds.js';
import { PlatformDispatch1796500000000 } from '../../migrations/1796500000000-PlatformDispatch.js';
import { ApplyReportsFunction1796600000000 } from '../../migrations/1796600000000-ApplyReportsFunction.js';
import { ReconcileLookups1796710000000 } from '../../migrations/1796710000000-ReconcileLookups.js';
import { Dispatches1796720000000 } from '../../migrations/1796720000000-Dispatches.js';
import { Campaigns1796800000000 } from '../../migrations/1796800000000-Campaigns.js';
import { EventSinks1796810000000 } from '../../migrations/1796810000000-EventSinks.js';
import { ReadFilterIndexes1796820000000 } from '../../migrations/1796820000000-ReadFilterIndexes.js';
import { CampaignDispatchIndex1796830000000 } from '../../migrations/1796830000000-CampaignDispatchIndex.js';
import { ApplyReportsNamed1796840000000 } from '../../migrations/1796840000000-ApplyReportsNamed.js';

// Every migration, in order. The TypeORM CLI (npm run migration:*, src/cli-data-source.ts) and the
// service share this list.
export const MIGRATIONS = [
  InitialSchema1764133200000,
  CommandApiJson1795690800000,
  PlatformSources1796120000000,
  ApiJsonStable1796130000000,
  HistoryTransactionIds1796400000000,
  PlatformDispatch1796500000000,
  ApplyReportsFunction1796600000000,
  ReconcileLookups1796710000000,
  Dispatches1796720000000,
  Campaigns1796800000000,
  EventSinks1796810000000,
  ReadFilterIndexes1796820000000,
  CampaignDispatchIndex1796830000000,
  ApplyReportsNamed1796840000000,
];

interface DatabaseConnectionOptions {
  url: string;
  poolSize: number;
}

// Bounds that keep a slow or unreachable database from holding a request past docs/api.md's 5 s.
const CONNECT_TIMEOUT_MS = 2000;
const STATEMENT_TIMEOUT_MS = 3000;

// How long a query may go unanswered before its connection is cut: longer than the server's own
// statement_timeout, so this only fires when the server cannot answer at all.
const QUERY_TIMEOUT_MS = STATEMENT_TIMEOUT_MS + 500;
const WATCHDOG_INTERVAL_MS = 250;
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 10_000;

/**
 * A pg client that cuts its connection when the server leaves a query unanswered for
 * QUERY_TIMEOUT_MS (a hung server, a dead link): the query fails as the database being
 * unavailable, and the pool opens a fresh connection once the database is back.
 *
 * pg's own query_timeout does not fit: it leaves the timed-out query active on its connection,
 * which the pool hands out again, and every later query on it times out too; and its timer per
 * query keeps each result reachable until it fires. Here one timer watches every client. A query
 * costs a counter update on the way in; the client's 'drain' (nothing left to run) ends the wait,
 * and any bytes from the server restart it. The query's own callback or promise is left alone:
 * wrapping it (as this client once did) made V8 tenure the row arrays of every result, and a full
 * collection every 0.3 s under list reads then cost a page about 0.2 ms of CPU more
 * (docs/decisions/allocation-site-pretenuring.md). The client makes its own socket, so cutting it
 * needs nothing of pg's internals.
 */
export class DatabaseClient extends pg.Client {
  /** Queries handed to this client since it last had nothing to run. */
  private unanswered = 0;
  /** When the server was last heard from, or the first of them was sent; 0 when idle. */
  private waitingSince = 0;
  /** Whether the server sent anything since the watchdog last looked. */
  private heard = false;
  /** How long a query may go unanswered; see allowSlowQueries. */
  private patienceMs = QUERY_TIMEOUT_MS;
  private readonly socket: Socket;

  constructor(config?: string | pg.ClientConfig) {
    const socket = new Socket();
    const options = typeof config === 'string' ? { connectionString: config } : (config ?? {});
    super({ ...options, stream: () => socket });
    this.socket = socket;
    // A connection that fails while checked out also fails the query in progress, which is where
    // the error is handled; without a listener the 'error' event would end the process.
    this.on('error', () => undefined);
    this.on('drain', () => {
      this.unanswered = 0;
      this.waitingSince = 0;
    });
    socket.on('data', () => {
      this.heard = true;
    });
    watchdog.add(this);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg's many overloads, unchanged
  override query(...args: any[]): any {
    const first: unknown = args[0];
    // A Submittable (cursor, stream) settles through its own events, and a client whose
    // connection is gone refuses the query without running anything: neither is watched.
    const watched =
      !(typeof first === 'object' && first !== null && 'submit' in first) && !this.socket.destroyed;
    if (watched && this.unanswered++ === 0) {
      this.waitingSince = Date.now();
    }
    try {
      return (super.query as (...queryArgs: unknown[]) => unknown).apply(this, args);
    } catch (error) {
      // Refused before it was queued (no query at all): nothing to wait for.
      if (watched && --this.unanswered === 0) {
        this.waitingSince = 0;
      }
      throw error;
    }
  }

  /**
   * Lets this client's queries go unanswered up to `ms` (one that sets a longer
   * statement_timeout of its own), or back to QUERY_TIMEOUT_MS with undefined: reset it before
   * the client goes back to the pool.
   */
  allowSlowQueries(ms: number | undefined): void {
    this.patienceMs = ms ?? QUERY_TIMEOUT_MS;
  }

  /** Queries handed to this client since it last had nothing to run (for tests). */
  get pendingQueries(): number {
    return this.unanswered;
  }

  /** Called by the watchdog; false once this client is gone for good. */
  check(now: number): boolean {
    if (this.heard) {
      this.heard = false;
      if (this.waitingSince !== 0) {
        this.waitingSince = now;
      }
    }
    if (this.waitingSince !== 0 && now - this.waitingSince > this.patienceMs) {
      this.waitingSince = 0;
      this.socket.destroy();
    }
    return !this.socket.destroyed;
  }
}

/** One interval timer for all clients, running only while there are clients. */
const watchdog = {
  clients: new Set<DatabaseClient>(),
  timer: undefined as NodeJS.Timeout | undefined,
  add(client: DatabaseClient): void {
    this.clients.add(client);
    this.timer ??= setInterval(() => this.check(), WATCHDOG_INTERVAL_MS).unref();
  },
  check(): void {
    const now = Date.now();
    for (const client of this.clients) {
      if (!client.check(now)) {
        this.clients.delete(client);
      }
    }
    if (this.clients.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  },
};

export function dataSourceOptions(options: DatabaseConnectionOptions): DataSourceOptions {
  return {
    type: 'postgres',
    url: options.url,
    // The service's SQL is hand-written; the TypeORM CLI adds the entities (src/cli-data-source.ts).
    entities: [],
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    extra: {
      Client: DatabaseClient,
      max: options.poolSize,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      statement_timeout: STATEMENT_TIMEOUT_MS,
      idleTimeoutMillis: 30000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      // A connection lost in the middle of a transaction must not hold its locks for long.
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
      application_name: 'command-tracker',
    },
  };
}
