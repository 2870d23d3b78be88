import { type Socket, connect } from 'node:net';

// An open-loop HTTP/1.1 load generator on raw sockets: requests leave on schedule whatever the
// answers do, each on an idle kept-alive connection or a new one. It costs a few microseconds per
// request, so that on a machine it shares with the service it keeps its schedule: Node's http
// client costs about as much CPU per request as the service spends refusing one, and fell
// seconds behind when the two cores were saturated.

export interface OpenLoopAnswer {
  /** The status code; 0 when the connection failed before an answer. */
  status: number;
  /** From the moment the request was written to its socket. */
  ms: number;
  /** How long after its planned time the request was written (the generator's lag). */
  lagMs: number;
  index: number;
  /** Whether it was the first request on a new connection. */
  fresh: boolean;
}

interface Connection {
  socket: Socket;
  buffer: Buffer;
  /** The request that opened it, until it is connected. */
  first?: { index: number; planned: number };
  current?: { index: number; planned: number; written: number; fresh: boolean };
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;

/**
 * Sends `total` POSTs to `path` at `rate` a second, at most `maxConnections` at once (requests that
 * find every connection busy wait, and their wait counts as lag), and settles with every answer.
 */
export function openLoop(options: {
  host: string;
  port: number;
  path: string;
  rate: number;
  total: number;
  maxConnections: number;
  body: (index: number) => string;
}): Promise<OpenLoopAnswer[]> {
  const { host, port, rate, total, maxConnections } = options;
  const answers: OpenLoopAnswer[] = [];
  const idle: Connection[] = [];
  const waiting: { index: number; planned: number }[] = [];
  let open = 0;
  let next = 0;
  const start = performance.now();

  return new Promise((resolve) => {
    const finishIfDone = () => {
      if (answers.length === total) {
        clearInterval(timer);
        for (const connection of idle) {
          connection.socket.destroy();
        }
        resolve(answers);
      }
    };

    const request = (index: number) => {
      const body = options.body(index);
      return (
        `POST ${options.path} HTTP/1.1\r\nHost: ${host}:${port}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
      );
    };

    const send = (
      connection: Connection,
      item: { index: number; planned: number },
      fresh = false,
    ) => {
      const written = performance.now();
      connection.current = { ...item, written, fresh };
      connection.socket.write(request(item.index));
    };

    const settle = (connection: Connection, status: number) => {
      const current = connection.current;
      if (current === undefined) {
        return;
      }
      connection.current = undefined;
      const now = performance.now();
      answers.push({
        status,
        ms: now - current.written,
        lagMs: current.written - current.planned,
        index: current.index,
        fresh: current.fresh,
      });
    };

    const release = (connection: Connection) => {
      const item = waiting.shift();
      if (item !== undefined) {
        send(connection, item);
      } else {
        idle.push(connection);
      }
    };

    const dispatch = (item: { index: number; planned: number }) => {
      const connection = idle.pop();
      if (connection !== undefined) {
        send(connection, item);
      } else if (open < maxConnections) {
        openConnection(item);
      } else {
        waiting.push(item);
      }
    };

    const openConnection = (first: { index: number; planned: number }) => {
      open++;
      const connection: Connection = {
        socket: connect({ host, port }),
        buffer: Buffer.alloc(0),
        first,
      };
      connection.socket.setNoDelay(true);
      connection.socket.once('connect', () => {
        connection.first = undefined;
        send(connection, first, true);
      });
      connection.socket.on('data', (chunk: Buffer) => {
        connection.buffer =
          connection.buffer.length === 0 ? chunk : Buffer.concat([connection.buffer, chunk]);
        for (;;) {
          const end = connection.buffer.indexOf(HEADER_END);
          if (end < 0) {
            return;
          }
          const head = connection.buffer.subarray(0, end).toString('latin1');
          const length = Number(CONTENT_LENGTH.exec(head)?.[1] ?? 0);
          if (connection.buffer.length < end + 4 + length) {
            return;
          }
          connection.buffer = connection.buffer.subarray(end + 4 + length);
          settle(connection, Number(head.slice(9, 12)));
          release(connection);
          finishIfDone();
        }
      });
      const lost = () => {
        open--;
        if (connection.first !== undefined) {
          const now = performance.now();
          answers.push({
            status: 0,
            ms: 0,
            lagMs: now - first.planned,
            index: first.index,
            fresh: true,
          });
        }
        settle(connection, 0);
        const at = idle.indexOf(connection);
        if (at >= 0) {
          idle.splice(at, 1);
        }
        finishIfDone();
        // What waited for a connection goes on a new one.
        const item = waiting.shift();
        if (item !== undefined) {
          dispatch(item);
        }
      };
      connection.socket.on('error', () => undefined);
      connection.socket.on('close', lost);
    };

    // Every millisecond, whatever the schedule owes by then.
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      for (; next < due; next++) {
        dispatch({ index: next, planned: start + (next * 1000) / rate });
      }
    }, 1);
  });
}
