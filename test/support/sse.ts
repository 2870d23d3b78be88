import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { type NestFastifyApplication } from '@nestjs/platform-fastify';

/** One server-sent event as a client sees it. */
export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/** The change feed's data, parsed. */
export interface ChangeData {
  commandId: string;
  deviceId: string;
  status: string;
  previousStatus: string | null;
  source: string;
  version: number;
  receivedAt: string;
  historyId: string;
}

/** Listens on a free loopback port (once) and gives the base URL. */
export async function listenUrl(app: NestFastifyApplication): Promise<string> {
  const server: http.Server = app.getHttpServer();
  if (!server.listening) {
    await app.listen({ port: 0, host: '127.0.0.1' });
  }
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

/** A GET /changes client over a real socket that collects events, comments and the end. */
export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  /** What EventSource keeps as its last event id: the latest `id`, also of a message without data. */
  lastEventId: string | undefined;
  /** Messages received, comments and id-only ones included. */
  blocks = 0;
  ended = false;
  private buffer = '';
  private waiters: (() => void)[] = [];

  private constructor(
    readonly status: number,
    readonly headers: http.IncomingHttpHeaders,
    private readonly request: http.ClientRequest,
    readonly response: http.IncomingMessage,
  ) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => this.receive(chunk));
    response.on('end', () => this.finish());
    response.on('close', () => this.finish());
    response.on('error', () => this.finish());
  }

  /** Resolves once the response headers arrived (the stream is then subscribed). */
  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const request = http.get(url, { headers: { accept: 'text/event-stream', ...headers } });
      request.once('response', (response) => {
        resolve(new SseClient(response.statusCode ?? 0, response.headers, request, response));
      });
      request.once('error', reject);
    });
  }

  /** The body of a non-stream answer (problem details). */
  async body(): Promise<string> {
    await this.waitUntil(() => this.ended, 5000);
    return this.buffer;
  }

  changes(): (ChangeData & { id: string })[] {
    return this.events
      .filter((event) => event.event === 'command-status')
      .map((event) => ({ id: event.id ?? '', ...(JSON.parse(event.data) as ChangeData) }));
  }

  /** Waits until `predicate` holds, or fails after `ms`. */
  async waitUntil(predicate: () => boolean, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `Timed out; events so far: ${JSON.stringify(this.events)}, ended: ${this.ended}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the change feed events matching `predicate` to number at least `count`. */
  async waitForChanges(
    count: number,
    predicate: (change: ChangeData & { id: string }) => boolean = () => true,
    ms = 10_000,
  ): Promise<(ChangeData & { id: string })[]> {
    await this.waitUntil(() => this.changes().filter(predicate).length >= count, ms);
    return this.changes().filter(predicate);
  }

  close(): void {
    this.request.destroy();
  }

  private receive(chunk: string): void {
    if (this.status !== 200) {
      this.buffer += chunk;
      return;
    }
    this.buffer += chunk;
    let boundary = this.buffer.indexOf('\n\n');
    while (boundary >= 0) {
      const block = this.buffer.slice(0, boundary);
      this.buffer = this.buffer.slice(boundary + 2);
      this.parse(block);
      boundary = this.buffer.indexOf('\n\n');
    }
    this.wake();
  }

  private parse(block: string): void {
    this.blocks++;
    const event: SseEvent = { data: '' };
    const data: string[] = [];
    let isEvent = false;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments.push(line.slice(1).trim());
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') {
        event.id = value;
        this.lastEventId = value;
        isEvent = true;
      } else if (field === 'event') {
        event.event = value;
        isEvent = true;
      } else if (field === 'data') {
        data.push(value);
        isEvent = true;
      }
    }
    if (isEvent && data.length > 0) {
      event.data = data.join('\n');
      this.events.push(event);
    }
  }

  private finish(): void {
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) {
      waiter();
    }
  }
}
