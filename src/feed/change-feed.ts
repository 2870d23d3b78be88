import { DatabaseUnavailableError } from '../database/database-errors.js';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnModuleInit,
} from '@nestjs/common';
import { type ServerResponse } from 'node:http';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { ServiceBusyProblem } from '../http/problem.js';
import { FeedMetrics } from '../metrics/feed-metrics.js';
import { ChangeReader } from './change-reader.js';
import { ChangeStream, type StreamOptions } from './change-stream.js';

// What a client refused for CHANGES_MAX_CLIENTS is told to wait before trying again.
const BUSY_RETRY_AFTER_SECONDS = 5;

/** The GET /changes streams of this instance: at most CHANGES_MAX_CLIENTS, all ended at shutdown. */
@Injectable()
export class ChangeFeed implements OnModuleInit, BeforeApplicationShutdown {
  private readonly streams = new Set<ChangeStream>();
  private closed = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly reader: ChangeReader,
    private readonly metrics: FeedMetrics,
  ) {}

  /** Open streams, replaying or live. */
  get clients(): number {
    return this.streams.size;
  }

  onModuleInit(): void {
    this.metrics.watch({
      clients: () => this.clients,
      holdbackSeconds: () => this.reader.holdbackSeconds(),
    });
  }

  /**
   * Serves one stream on `response` (headers not yet sent). Throws, before anything is written,
   * when it cannot: ServiceBusyProblem at CHANGES_MAX_CLIENTS, DatabaseUnavailableError when the
   * history cannot be read or at shutdown.
   */
  async stream(response: ServerResponse, options: StreamOptions): Promise<void> {
    if (this.closed) {
      throw new DatabaseUnavailableError('shutting down');
    }
    if (this.streams.size >= this.config.changesMaxClients) {
      throw new ServiceBusyProblem(
        'This instance serves as many change streams as it may (CHANGES_MAX_CLIENTS); try again later',
        BUSY_RETRY_AFTER_SECONDS,
      );
    }
    const stream = new ChangeStream(
      response,
      options,
      this.reader,
      this.config.changesHeartbeatSeconds,
      () => this.streams.delete(stream),
    );
    this.streams.add(stream);
    await stream.run();
  }

  /** Ends every open stream before the HTTP server closes, which would otherwise wait for them. */
  beforeApplicationShutdown(): void {
    this.closed = true;
    for (const stream of [...this.streams]) {
      stream.end();
    }
  }
}
