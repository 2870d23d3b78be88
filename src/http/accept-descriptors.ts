import { spawn } from 'node:child_process';
import { type Server, createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';

/**
 * The listening socket's backlog: a platform draining a backlog opens connections faster than a
 * busy event loop accepts them, and a full accept queue drops their SYNs, which TCP retries only
 * after 1, 3, 7 s. The kernel caps it at net.core.somaxconn.
 */
export const LISTEN_BACKLOG = 4096;

/** How many more descriptors of the listening socket accept connections. */
export const EXTRA_ACCEPT_DESCRIPTORS = 64;

// Run by a short-lived helper process: it receives the listening socket's handle over IPC and
// sends it back `count` times, each arriving as a new descriptor, then disconnects and exits. A raw
// handle is not listened on by the helper, so it never accepts a connection itself.
const SEND_BACK = `process.on('message', (count, handle) => {
  const next = (error) => (error || count-- === 0 ? process.disconnect() : process.send('copy', handle, next));
  next();
});`;

const HELPER_TIMEOUT_MS = 10_000;

/**
 * More descriptors of the HTTP server's listening socket, each accepting for that server.
 *
 * libuv accepts one connection each time the event loop finds a listening descriptor readable. While
 * an open-loop burst saturates the loop, a turn takes 100 ms or more, so one descriptor takes in
 * about ten connections a second, and a connection opened meanwhile waits seconds in the kernel's
 * accept queue before its first request is read: no admission rule sees it in time. The kernel
 * reports every descriptor of the socket readable while connections wait, so each one adds an accept
 * per turn; an idle socket reports none of them. Node.js has no dup(), so a helper process returns
 * the handle as many times as asked.
 */
export class AcceptDescriptors {
  private readonly listeners: Server[] = [];
  private closing = false;
  private closed: Promise<unknown> = Promise.resolve();

  /** Registers the hooks that stop these descriptors with the HTTP server; call before listening. */
  constructor(fastify: FastifyInstance) {
    // Before the server stops accepting: the socket closes once every descriptor of it is closed,
    // so that new connections are refused from then on.
    fastify.addHook('preClose', (done) => {
      this.closing = true;
      this.closed = Promise.all(
        this.listeners.map(
          (listener) => new Promise<void>((resolve) => listener.close(() => resolve())),
        ),
      );
      done();
    });
    // A connection accepted through a copy is the HTTP server's, but the copy's net.Server counts
    // it: the close completes once those connections have ended too, before the database closes.
    fastify.addHook('onClose', async () => {
      await this.closed;
    });
  }

  /**
   * Opens `count` more descriptors of `server`'s listening socket; resolves with how many it
   * opened (all of them, or fewer with the reason when the helper process failed).
   */
  open(server: Server, count: number): Promise<{ opened: number; problem?: string }> {
    const handle = (server as unknown as { _handle?: object | null })._handle;
    if (handle === undefined || handle === null || process.platform === 'win32') {
      return Promise.resolve({ opened: 0, problem: 'not supported on this platform' });
    }
    return new Promise((resolve) => {
      // No environment: the helper needs none, and the service's secrets stay out of it.
      const helper = spawn(process.execPath, ['-e', SEND_BACK], {
        stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
        env: {},
      });
      let settled = false;
      const settle = (problem?: string) => {
        if (settled) {
          return;
        }
        settled = true;
        clearTimeout(timer);
        if (helper.exitCode === null && helper.signalCode === null) {
          helper.kill();
        }
        resolve({ opened: this.listeners.length, problem });
      };
      const timer = setTimeout(
        () => settle(`the helper process sent no descriptor within ${HELPER_TIMEOUT_MS} ms`),
        HELPER_TIMEOUT_MS,
      );
      helper.on('message', (_message, copy) => {
        if (settled || this.closing || copy === undefined) {
          // The service is stopping: it accepts on what it has until then.
          (copy as { close?: () => void } | undefined)?.close?.();
          settle();
          return;
        }
        const listener = createServer((socket) => {
          // As the HTTP server's own connections: it is created with noDelay.
          socket.setNoDelay(true);
          server.emit('connection', socket);
        });
        // An accept that fails (out of descriptors) is the main socket's condition too; it is not
        // fatal to a copy, which goes on accepting once descriptors are free again.
        listener.on('error', () => undefined);
        listener.listen(copy, LISTEN_BACKLOG);
        this.listeners.push(listener);
        if (this.listeners.length === count) {
          settle();
        }
      });
      helper.on('error', (error) => settle(`the helper process failed: ${error.message}`));
      helper.on('exit', () => settle('the helper process exited before sending every descriptor'));
      helper.send(count, handle as Parameters<typeof helper.send>[1]);
    });
  }
}
