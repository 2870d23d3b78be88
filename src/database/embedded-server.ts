import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { keepFilesPrivate } from './embedded-data-dir.js';
import {
  type ServerReply,
  type ServerRequest,
  type Served,
  initialiseDataDir,
  serveDatabase,
} from './embedded-postgres.js';

// The embedded database's own process, forked by EmbeddedPostgres with an IPC channel: its queries
// run on this event loop and its WebAssembly memory is this process's, not the service's. With
// `--initdb <dir>` it only creates a new data directory and exits.

function send(reply: ServerReply): Promise<void> {
  return new Promise((done) => {
    if (process.send === undefined || !process.connected) {
      done();
      return;
    }
    process.send(reply, undefined, {}, () => done());
  });
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// Before anything opens the database: every file it creates is the owner's alone.
keepFilesPrivate();

if (process.argv[2] === '--initdb') {
  await initialiseDataDir(process.argv[3]);
} else if (process.send === undefined) {
  console.error('embedded-server: run by the service (EmbeddedPostgres), with an IPC channel');
  process.exit(1);
} else {
  let starting: Promise<Served | undefined> | undefined;
  let stopping: Promise<void> | undefined;

  // On a 'stop' from the service, and when the service is gone (its exit, even by SIGKILL, closes
  // the channel): nothing else may keep the data directory open once the service has left.
  let socketDir: string | undefined;
  const stop = (serviceGone: boolean): Promise<void> =>
    (stopping ??= (async () => {
      let code = 0;
      try {
        await (await starting)?.stop();
      } catch (error) {
        console.error(`embedded-server: could not close the database: ${message(error)}`);
        code = 1;
      }
      // The service made the socket's private directory and removes it when it stops us; gone, it
      // cannot.
      if (serviceGone && socketDir !== undefined) {
        await rm(socketDir, { recursive: true, force: true });
      }
      process.exit(code);
    })());

  process.on('disconnect', () => void stop(true));
  // A signal to the whole process group (Ctrl-C, a supervisor stopping the service) reaches this
  // process too: the service stops it once it has drained its requests, or its exit closes the
  // channel, so that no query in flight is cut off.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {});
  }
  process.on('message', (request: ServerRequest) => {
    switch (request.type) {
      case 'start':
        socketDir = dirname(request.socketPath);
        starting ??= serveDatabase({
          dataDir: request.dataDir,
          socketPath: request.socketPath,
          loadDataDir:
            request.loadDataDir === undefined
              ? undefined
              : new Blob([request.loadDataDir as Uint8Array<ArrayBuffer>]),
        }).then(
          async (served) => {
            await send({ type: 'ready' });
            return served;
          },
          async (error: unknown) => {
            await send({ type: 'failed', message: message(error) });
            process.exit(1);
          },
        );
        break;
      case 'dump':
        void (async () => {
          try {
            const served = await starting;
            if (served === undefined) {
              throw new Error('not started');
            }
            const data = new Uint8Array(await (await served.dump()).arrayBuffer());
            await send({ type: 'dump', id: request.id, data });
          } catch (error) {
            await send({ type: 'dump', id: request.id, error: message(error) });
          }
        })();
        break;
      case 'stop':
        void stop(false);
        break;
    }
  });
}
