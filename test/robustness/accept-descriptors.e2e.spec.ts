import { readFile, readdir, readlink } from 'node:fs/promises';
import { type Server, type Socket, connect } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  AcceptDescriptors,
  EXTRA_ACCEPT_DESCRIPTORS,
  LISTEN_BACKLOG,
} from '../../src/http/accept-descriptors.js';
import { eventually } from '../support/eventually.js';
import { type ServiceProcess, startService } from '../support/service-process.js';

// While an open-loop burst saturates the event loop, libuv accepts one connection per turn of the
// loop and listening descriptor, so a connection opened in the middle of the burst waited seconds
// in the kernel's accept queue (up to 7 s for a 503 in the bench). More descriptors of the same
// socket accept more per turn.

const CONNECTIONS = 40;

/**
 * Holds this event loop busy for 200 ms after the connections just opened have called connect(2)
 * (net.connect() does so on the next tick): the kernel completes their handshakes meanwhile, and
 * they wait in the accept queue as they would behind a saturated loop.
 */
async function busyWhileConnecting(): Promise<void> {
  await new Promise((resolve) => process.nextTick(resolve));
  const busyUntil = Date.now() + 200;
  while (Date.now() < busyUntil) {
    // A saturated event loop.
  }
}

/** Opens `count` connections while this event loop is busy, then counts how many each turn accepts. */
async function acceptedPerTurn(server: Server, port: number, count: number): Promise<number[]> {
  const perTurn: number[] = [];
  let turn = 0;
  let accepted = 0;
  const onConnection = () => {
    perTurn[turn] = (perTurn[turn] ?? 0) + 1;
    accepted++;
  };
  server.on('connection', onConnection);
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i++) {
    sockets.push(connect({ port, host: '127.0.0.1' }).on('error', () => undefined));
  }
  await busyWhileConnecting();
  await new Promise<void>((resolve) => {
    const nextTurn = () => {
      turn++;
      if (accepted >= count || turn > 10 * count) {
        resolve();
      } else {
        setImmediate(nextTurn);
      }
    };
    setImmediate(nextTurn);
  });
  server.off('connection', onConnection);
  for (const socket of sockets) {
    socket.destroy();
  }
  return perTurn.filter((n) => n !== undefined);
}

async function listening(fastify: FastifyInstance): Promise<number> {
  await fastify.listen({ port: 0, host: '127.0.0.1', backlog: LISTEN_BACKLOG });
  return (fastify.server.address() as { port: number }).port;
}

/** The descriptors of this process that refer to the socket `server` listens on. */
async function descriptorsOf(pid: number | 'self', port: number): Promise<number> {
  const table = await readFile(`/proc/${pid}/net/tcp`, 'utf8');
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  // The listening socket (state 0A) on this port; its inode names it in /proc/<pid>/fd.
  const row = table
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .find((fields) => fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '0A');
  if (row === undefined) {
    return 0;
  }
  const name = `socket:[${row[9]}]`;
  const fds = await readdir(`/proc/${pid}/fd`);
  const links = await Promise.all(
    fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')),
  );
  return links.filter((link) => link === name).length;
}

describe('extra accept descriptors', () => {
  const apps: FastifyInstance[] = [];

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  function app(): FastifyInstance {
    const fastify = Fastify();
    fastify.get('/', async () => ({ ok: true }));
    apps.push(fastify);
    return fastify;
  }

  it('with one descriptor, a busy event loop accepts one connection per turn (why they exist)', async () => {
    const fastify = app();
    const port = await listening(fastify);
    const perTurn = await acceptedPerTurn(fastify.server, port, CONNECTIONS);
    expect(perTurn.reduce((a, b) => a + b, 0)).toBe(CONNECTIONS);
    expect(Math.max(...perTurn)).toBe(1);
  });

  it('accept one more connection per turn each, and serve them as the HTTP server', async () => {
    const fastify = app();
    const descriptors = new AcceptDescriptors(fastify);
    const port = await listening(fastify);
    expect(await descriptors.open(fastify.server, 15)).toEqual({ opened: 15 });
    expect(await descriptorsOf('self', port)).toBe(16);

    const perTurn = await acceptedPerTurn(fastify.server, port, CONNECTIONS);
    expect(perTurn.reduce((a, b) => a + b, 0)).toBe(CONNECTIONS);
    expect(perTurn[0]).toBe(16);
    expect(perTurn.length).toBe(Math.ceil(CONNECTIONS / 16));

    // Each connection is the HTTP server's, whichever descriptor accepted it.
    const answers = await Promise.all(
      Array.from({ length: 32 }, () => fetch(`http://127.0.0.1:${port}/`).then((r) => r.json())),
    );
    expect(answers).toEqual(Array.from({ length: 32 }, () => ({ ok: true })));
  });

  it('close with the server: new connections are refused, those in flight are answered first', async () => {
    const fastify = Fastify();
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    // Requests on connections the HTTP server's own descriptor accepted are answered at once, so
    // that only those on copies hold the close. (The HTTP server sets every connection's `server`
    // to itself; `_server` stays the net.Server that accepted it.)
    let onCopies = 0;
    let onMain = 0;
    fastify.get('/slow', async (request) => {
      if ((request.raw.socket as { _server?: unknown })._server === fastify.server) {
        onMain++;
        return { done: true };
      }
      onCopies++;
      await held;
      return { done: true };
    });
    const descriptors = new AcceptDescriptors(fastify);
    const port = await listening(fastify);
    await descriptors.open(fastify.server, 15);

    // Requests on connections opened while the loop is busy: most are accepted through copies.
    const inFlight = Array.from({ length: 32 }, () => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.write('GET /slow HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n');
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      return new Promise<string>((resolve) => socket.on('close', () => resolve(answer)));
    });
    await busyWhileConnecting();
    await eventually(
      () => onCopies + onMain === 32,
      5000,
      () => `${onCopies + onMain} of 32 requests reached the handler`,
    );
    expect(onCopies).toBeGreaterThan(0);
    // As the service does while it stops: a kept-alive connection is closed once it is idle.
    const closeIdle = setInterval(() => fastify.server.closeIdleConnections(), 100);
    let closed = false;
    const closing = fastify.close().then(() => (closed = true));
    await eventually(
      () =>
        new Promise<boolean>((resolve) => {
          const probe = connect({ port, host: '127.0.0.1' });
          probe.on('connect', () => {
            probe.destroy();
            resolve(false);
          });
          probe.on('error', (error: NodeJS.ErrnoException) =>
            resolve(error.code === 'ECONNREFUSED'),
          );
        }),
      5000,
      () => 'new connections were still accepted after close',
    );
    // The server's own connections are answered and closed by now.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(closed).toBe(false);
    release();
    const answers = await Promise.all(inFlight);
    for (const answer of answers) {
      expect(answer).toMatch(/^HTTP\/1\.1 200 [^]*\r\n\r\n\{"done":true\}$/);
    }
    await closing;
    clearInterval(closeIdle);
    expect(await descriptorsOf('self', port)).toBe(0);
  });
});

describe('the service', () => {
  let service: ServiceProcess | undefined;

  afterAll(async () => {
    await service?.kill();
  });

  it(`listens on ${EXTRA_ACCEPT_DESCRIPTORS + 1} descriptors of its socket`, async () => {
    service = await startService({ PGLITE_DATA_DIR: 'memory://' });
    const port = Number(new URL(service.url).port);
    const pid = service.child.pid ?? 0;
    await eventually(
      async () => (await descriptorsOf(pid, port)) === EXTRA_ACCEPT_DESCRIPTORS + 1,
      10_000,
      () => `${EXTRA_ACCEPT_DESCRIPTORS + 1} descriptors expected:\n${service?.output()}`,
    );
    expect(service.output()).not.toContain('Accepting on');
  });
});
