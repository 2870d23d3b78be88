import {
  type AddressInfo,
  type Server,
  type Socket,
  createConnection,
  createServer,
} from 'node:net';

/**
 * pass: bytes flow both ways.
 * cut: every open connection is reset, and new ones are reset as soon as they arrive.
 * refuse: every open connection is reset and the port is closed (ECONNREFUSED), as when the
 *   server is down.
 * hang: connections are accepted but nothing is forwarded either way, as from a frozen server;
 *   connections that hung stay hung for good, even after restore().
 */
export type FaultMode = 'pass' | 'cut' | 'refuse' | 'hang';

interface Link {
  client: Socket;
  upstream: Socket;
  hung: boolean;
}

/** A TCP proxy (plain node:net) between the service and PostgreSQL that injects faults on demand. */
export class FaultProxy {
  private mode: FaultMode = 'pass';
  private readonly links = new Set<Link>();

  private listening: Promise<void> = Promise.resolve();

  private constructor(
    private readonly server: Server,
    private readonly target: { host: string; port: number } | { path: string },
    readonly port: number,
  ) {}

  static async start(targetUrl: string): Promise<FaultProxy> {
    const parsed = new URL(targetUrl);
    const port = Number(parsed.port || 5432);
    // A Unix socket directory in ?host= (the embedded database's): libpq's socket file in it.
    const socketDir = parsed.searchParams.get('host');
    const target = socketDir?.startsWith('/')
      ? { path: `${socketDir}/.s.PGSQL.${port}` }
      : { host: parsed.hostname, port };
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new FaultProxy(server, target, (server.address() as AddressInfo).port);
    server.on('connection', (client) => proxy.accept(client));
    return proxy;
  }

  /** The same database URL, through this proxy. */
  url(databaseUrl: string): string {
    const parsed = new URL(databaseUrl);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    parsed.searchParams.delete('host');
    return parsed.toString();
  }

  get connections(): number {
    return this.links.size;
  }

  cut(): void {
    this.mode = 'cut';
    for (const link of this.links) {
      this.drop(link);
    }
  }

  refuse(): void {
    this.cut();
    this.mode = 'refuse';
    this.listening = new Promise((resolve) => this.server.close(() => resolve()));
  }

  hang(): void {
    this.mode = 'hang';
    for (const link of this.links) {
      link.hung = true;
    }
  }

  /** New connections pass again; hung ones stay hung until the service gives up on them. */
  async restore(): Promise<void> {
    if (this.mode === 'refuse') {
      await this.listening;
      await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
    }
    this.mode = 'pass';
  }

  async close(): Promise<void> {
    for (const link of this.links) {
      this.drop(link);
    }
    if (this.mode === 'refuse') {
      await this.listening;
    } else {
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
  }

  private accept(client: Socket): void {
    client.on('error', () => undefined);
    if (this.mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection(this.target);
    upstream.on('error', () => undefined);
    const link: Link = { client, upstream, hung: this.mode === 'hang' };
    this.links.add(link);
    // Forward by hand rather than pipe(), so that a hung link can swallow bytes at any moment.
    client.on('data', (chunk) => {
      if (!link.hung) {
        upstream.write(chunk);
      }
    });
    upstream.on('data', (chunk) => {
      if (!link.hung) {
        client.write(chunk);
      }
    });
    // Closing still travels both ways, also when hung: the peer's kernel would see it.
    const end = () => this.drop(link);
    client.on('close', end);
    upstream.on('close', end);
  }

  private drop(link: Link): void {
    this.links.delete(link);
    if (!link.client.destroyed) {
      link.client.resetAndDestroy();
    }
    link.upstream.destroy();
  }
}
