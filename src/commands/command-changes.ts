import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { type ServerResponse } from 'node:http';
import pg from 'pg';
import { Observable, type Subscriber, type Subscription } from 'rxjs';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { CONNECT_TIMEOUT_MS, STATEMENT_TIMEOUT_MS } from '../database/data-source.js';
import { DatabaseUnavailableError } from '../http/problem.js';
import {
  type CommandStatus,
  REPORT_SOURCES,
  type ReportSource,
  isCommandStatus,
} from './command-status.js';
import { CHANGES_CHANNEL, CommandsRepository } from './commands.repository.js';

/** An applied status change, as the change feed sends it. */
export interface CommandChange {
  /** The history event id. */
  id: string;
  commandId: string;
  deviceId: string;
  status: CommandStatus;
  previousStatus: CommandStatus | null;
  source: ReportSource;
  version: number;
  receivedAt: string;
}

export interface ChangeFilter {
  deviceId?: string;
  commandId?: string;
}

/** Live changes stopped arriving for a while (LISTEN connection lost): streams must end. */
export class ChangesInterruptedError extends Error {
  constructor(cause?: unknown) {
    super('Change notifications were interrupted', { cause });
    this.name = 'ChangesInterruptedError';
  }
}

// Replay after Last-Event-ID in pages; past REPLAY_LIMIT the stream ends and the client, which
// reconnects with the last id it got, carries on from there.
const REPLAY_PAGE_SIZE = 500;
const REPLAY_LIMIT = 10_000;
// Live changes waiting for the replay to finish, and unsent bytes of a slow client: past these
// the stream ends (and the client reconnects with Last-Event-ID) rather than grow without bound.
const MAX_BUFFERED_CHANGES = 10_000;
const MAX_UNSENT_BYTES = 4 * 1024 * 1024;
// How long a new stream waits for the LISTEN connection before it is answered 503.
const LISTEN_WAIT_MS = 4000;
// A LISTEN connection can hang silently (a dropped route sends no reset): it is probed this often.
const LISTEN_PROBE_MS = 10_000;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 30_000;
// Tells EventSource how long to wait before reconnecting.
const CLIENT_RETRY_MS = 2000;

/**
 * The live change feed of this instance.
 *
 * On PostgreSQL, every statement that applies a change also NOTIFYs it (commands.repository.ts),
 * and PostgreSQL delivers it at commit to every instance's dedicated LISTEN connection: that is
 * the only source of live changes there, so each change reaches each subscriber exactly once
 * whichever instance applied it. The embedded database is one process and cannot deliver
 * notifications, so there the changes this process commits are published in-process instead.
 */
@Injectable()
export class CommandChanges implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(CommandChanges.name);
  private readonly subscribers = new Set<Subscriber<CommandChange>>();
  private readonly viaNotifications: boolean;
  private listener: pg.Client | undefined;
  private listening = false;
  private listeningWaiters: (() => void)[] = [];
  private reconnectTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private reconnectDelayMs = RECONNECT_MIN_MS;
  private closed = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repository: CommandsRepository,
  ) {
    this.viaNotifications = config.databaseUrl !== undefined;
  }

  /**
   * Applied changes from now on, from every instance. Completes at shutdown; fails with
   * ChangesInterruptedError when the LISTEN connection was lost, since changes may have been missed.
   */
  get changes(): Observable<CommandChange> {
    return new Observable<CommandChange>((subscriber) => {
      if (this.closed) {
        subscriber.complete();
        return undefined;
      }
      this.subscribers.add(subscriber);
      return () => this.subscribers.delete(subscriber);
    });
  }

  /** Open subscriptions to `changes` (one per open GET /changes stream, plus any internal ones). */
  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /**
   * Publishes a change this process has committed. On PostgreSQL the statement's own NOTIFY
   * delivers it (to every instance), so this only feeds subscribers on the embedded database.
   */
  publish(change: CommandChange): void {
    if (!this.viaNotifications) {
      this.deliver(change);
    }
  }

  /** Settles once live changes are arriving; DatabaseUnavailableError if not within `ms`. */
  async whenListening(ms = LISTEN_WAIT_MS): Promise<void> {
    if (!this.viaNotifications || this.listening) {
      return;
    }
    if (this.closed) {
      throw new DatabaseUnavailableError('shutting down');
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeningWaiters = this.listeningWaiters.filter((waiter) => waiter !== done);
        reject(new DatabaseUnavailableError('change notifications are not available'));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.listeningWaiters.push(done);
    });
  }

  onApplicationBootstrap(): void {
    if (this.viaNotifications) {
      void this.listen();
    }
  }

  /** Ends every open stream before the HTTP server closes, which would otherwise wait for them. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.probeTimer);
    for (const subscriber of [...this.subscribers]) {
      subscriber.complete();
    }
    const listener = this.listener;
    this.listener = undefined;
    this.listening = false;
    await listener?.end().catch(() => undefined);
  }

  /**
   * Serves one GET /changes stream on `response` (headers not yet sent): live changes matching
   * `filter`, after the applied changes recorded after `lastEventId`, if given. Throws, before
   * anything is written, when the feed cannot start (database unavailable); see ChangeStream.
   */
  async stream(response: ServerResponse, options: StreamOptions): Promise<void> {
    await new ChangeStream(response, options, this, this.config.changesHeartbeatSeconds).run();
  }

  /** Up to `limit` applied changes after `afterId`, oldest first, from the history. */
  replay(afterId: string, filter: ChangeFilter, limit: number): Promise<CommandChange[]> {
    return this.repository.appliedChangesAfter(afterId, filter, limit);
  }

  private deliver(change: CommandChange): void {
    for (const subscriber of [...this.subscribers]) {
      subscriber.next(change);
    }
  }

  /** Opens the dedicated LISTEN connection; reconnects with backoff when it fails or drops. */
  private async listen(): Promise<void> {
    if (this.closed) {
      return;
    }
    const client = new pg.Client({
      connectionString: this.config.databaseUrl,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: STATEMENT_TIMEOUT_MS,
      keepAlive: true,
      keepAliveInitialDelayMillis: LISTEN_PROBE_MS,
      application_name: 'command-tracker-changes',
    });
    this.listener = client;
    client.on('notification', (message) => {
      if (message.channel === CHANGES_CHANNEL) {
        this.receive(message.payload);
      }
    });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch (error) {
      this.lost(client, error);
      return;
    }
    if (this.listener !== client) {
      return;
    }
    this.listening = true;
    this.reconnectDelayMs = RECONNECT_MIN_MS;
    this.probeTimer = setInterval(() => {
      client.query('SELECT 1').catch((error: unknown) => this.lost(client, error));
    }, LISTEN_PROBE_MS);
    this.probeTimer.unref();
    for (const waiter of this.listeningWaiters.splice(0)) {
      waiter();
    }
  }

  private lost(client: pg.Client, error: unknown): void {
    if (this.listener !== client) {
      return;
    }
    this.listener = undefined;
    clearInterval(this.probeTimer);
    const wasListening = this.listening;
    this.listening = false;
    client.removeAllListeners('notification');
    client.on('error', () => undefined);
    void client.end().catch(() => undefined);
    if (this.closed) {
      return;
    }
    this.logger.warn(
      `Change notifications ${wasListening ? 'lost' : 'unavailable'} (${describe(error)}); retrying in ${this.reconnectDelayMs} ms`,
    );
    if (wasListening) {
      // Changes committed until LISTEN is back would be missed: end the streams, whose clients
      // reconnect with Last-Event-ID and get them from the history.
      const interrupted = new ChangesInterruptedError(error);
      for (const subscriber of [...this.subscribers]) {
        subscriber.error(interrupted);
      }
    }
    this.reconnectTimer = setTimeout(() => void this.listen(), this.reconnectDelayMs);
    this.reconnectTimer.unref();
    this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, RECONNECT_MAX_MS);
  }

  private receive(payload: string | undefined): void {
    const change = parseChange(payload);
    if (change === undefined) {
      this.logger.warn('Ignored a malformed change notification');
      return;
    }
    this.deliver(change);
  }
}

export interface StreamOptions {
  filter: ChangeFilter;
  lastEventId?: string;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /** Called once before the first write to the response (Fastify: reply.hijack()). */
  takeOver?: () => void;
}

/**
 * One GET /changes connection. Live changes are subscribed to first and held while the history
 * after Last-Event-ID is read, then those the replay did not already send follow, so nothing
 * committed in between is lost or sent twice. The stream ends on client disconnect, at shutdown,
 * when live changes were interrupted, or when the client falls too far behind; a client then
 * reconnects with Last-Event-ID and resumes from the history.
 */
class ChangeStream {
  private readonly logger = new Logger('ChangeStream');
  private readonly held: CommandChange[] = [];
  // Ids sent from the history. The replay can read a change before its notification arrives
  // (NOTIFY reaches the LISTEN connection after the commit that other connections already see),
  // so live changes are checked against these too, not only the held ones.
  private readonly replayed = new Set<string>();
  private live = false;
  private overflow = false;
  private ended = false;
  private takenOver = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private subscription: Subscription | undefined;

  constructor(
    private readonly response: ServerResponse,
    private readonly options: StreamOptions,
    private readonly changes: CommandChanges,
    private readonly heartbeatSeconds: number,
  ) {}

  async run(): Promise<void> {
    const { filter, lastEventId } = this.options;
    this.subscription = this.changes.changes.subscribe({
      next: (change) => this.receive(change),
      error: () => this.end(),
      complete: () => this.end(),
    });
    this.response.once('close', () => this.end());

    let firstPage: CommandChange[] = [];
    try {
      await this.changes.whenListening();
      if (lastEventId !== undefined) {
        firstPage = await this.changes.replay(lastEventId, filter, REPLAY_PAGE_SIZE);
      }
    } catch (error) {
      // Nothing written: the caller answers with problem details.
      this.release();
      throw error;
    }
    if (this.ended) {
      return;
    }

    this.takeOver();
    this.response.writeHead(200, {
      ...this.options.headers,
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    this.write(`retry: ${CLIENT_RETRY_MS}\n\n`);
    this.heartbeat = setInterval(() => this.write(': heartbeat\n\n'), this.heartbeatSeconds * 1000);
    this.heartbeat.unref();

    const complete = await this.replay(firstPage, lastEventId);
    if (!complete || this.ended) {
      return;
    }
    if (this.overflow) {
      this.end();
      return;
    }
    // Held changes committed while the history was read; those it already had are not resent.
    for (const change of this.held.splice(0)) {
      if (!this.replayed.has(change.id)) {
        this.write(toEvent(change));
      }
    }
    this.live = true;
  }

  /** Sends the history page by page; false when the stream ended before the end of it. */
  private async replay(
    firstPage: CommandChange[],
    lastEventId: string | undefined,
  ): Promise<boolean> {
    const replayed = this.replayed;
    let page = firstPage;
    let after = lastEventId;
    try {
      while (page.length > 0 && !this.ended) {
        for (const change of page) {
          replayed.add(change.id);
          this.write(toEvent(change));
        }
        after = page[page.length - 1].id;
        if (page.length < REPLAY_PAGE_SIZE) {
          break;
        }
        if (replayed.size >= REPLAY_LIMIT) {
          // The rest on reconnection, from the last id sent.
          this.end();
          return false;
        }
        page = await this.changes.replay(after, this.options.filter, REPLAY_PAGE_SIZE);
      }
    } catch (error) {
      this.logger.warn(`Replay of /changes after ${after} failed: ${describe(error)}`);
      this.end();
      return false;
    }
    return true;
  }

  private receive(change: CommandChange): void {
    if (!matches(change, this.options.filter)) {
      return;
    }
    if (this.live) {
      if (!this.replayed.has(change.id)) {
        this.write(toEvent(change));
      }
    } else if (this.held.length < MAX_BUFFERED_CHANGES) {
      this.held.push(change);
    } else {
      this.overflow = true;
    }
  }

  private write(text: string): void {
    if (this.ended) {
      return;
    }
    this.response.write(text);
    if (this.response.writableLength > MAX_UNSENT_BYTES) {
      this.logger.warn('A /changes client is not reading; ending its stream');
      this.end();
    }
  }

  private takeOver(): void {
    if (!this.takenOver) {
      this.takenOver = true;
      this.options.takeOver?.();
    }
  }

  private release(): void {
    this.ended = true;
    clearInterval(this.heartbeat);
    this.subscription?.unsubscribe();
  }

  private end(): void {
    if (this.ended) {
      return;
    }
    this.release();
    this.takeOver();
    if (!this.response.writableEnded) {
      this.response.end();
    }
  }
}

function matches(change: CommandChange, filter: ChangeFilter): boolean {
  return (
    (filter.deviceId === undefined || change.deviceId === filter.deviceId) &&
    (filter.commandId === undefined || change.commandId === filter.commandId)
  );
}

/** One SSE message; JSON.stringify escapes newlines, so `data` is a single line. */
export function toEvent(change: CommandChange): string {
  const data = {
    commandId: change.commandId,
    deviceId: change.deviceId,
    status: change.status,
    previousStatus: change.previousStatus,
    source: change.source,
    version: change.version,
    receivedAt: change.receivedAt,
  };
  return `id: ${change.id}\nevent: command-status\ndata: ${JSON.stringify(data)}\n\n`;
}

function parseChange(payload: string | undefined): CommandChange | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload ?? '');
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) {
    return undefined;
  }
  const change = value as Record<string, unknown>;
  const valid =
    typeof change.id === 'string' &&
    typeof change.commandId === 'string' &&
    typeof change.deviceId === 'string' &&
    isCommandStatus(change.status) &&
    (change.previousStatus === null || isCommandStatus(change.previousStatus)) &&
    (REPORT_SOURCES as readonly unknown[]).includes(change.source) &&
    typeof change.version === 'number' &&
    typeof change.receivedAt === 'string';
  return valid ? (change as unknown as CommandChange) : undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
