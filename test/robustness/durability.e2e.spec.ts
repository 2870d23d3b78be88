import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { type IncomingMessage, get as httpGet } from 'node:http';
import { type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { COMMAND_STATUSES } from '../../src/commands/command-status.js';
import { callbackBody, newCommandId } from '../support/factories.js';
import { type ServiceProcess, ensureBuilt, startService } from '../support/service-process.js';
import {
  type TestDatabase,
  adminQuery,
  createTestDatabase,
  serverUrl,
} from '../support/test-database.js';

// 200 only after commit, shown on the real built service: killed with SIGKILL
// under load, every acknowledged report is in the history; stopped with SIGTERM, it stops
// accepting, finishes what is in flight, closes the pool and exits 0.

const onServer = serverUrl() !== undefined;
const describeOnServer = onServer ? describe : describe.skip;

interface Sent {
  reportId: string;
  commandId: string;
  status: string;
}

interface Acked extends Sent {
  outcome: string;
}

beforeAll(async () => {
  await ensureBuilt();
}, 120_000);

describeOnServer('SIGKILL under load (PostgreSQL only)', () => {
  let database: TestDatabase;
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await Promise.all(services.map((service) => service.kill()));
    await database.drop();
  });

  it('keeps every report it acknowledged with 200, and serves again after a restart', async () => {
    const service = await startService({ DATABASE_URL: database.url, LOG_LEVEL: 'warn' });
    services.push(service);
    const commands = Array.from({ length: 40 }, () => newCommandId());
    const sent: Sent[] = [];
    const acked: Acked[] = [];
    let killed = false;

    const worker = async () => {
      while (!killed) {
        const report: Sent = {
          reportId: randomUUID(),
          commandId: commands[Math.floor(Math.random() * commands.length)],
          status: COMMAND_STATUSES[Math.floor(Math.random() * COMMAND_STATUSES.length)],
        };
        sent.push(report);
        try {
          const response = await fetch(`${service.url}/callbacks/command-status`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(
              callbackBody({
                commandId: report.commandId,
                result: { resultCode: report.status, resultDetail: { reportId: report.reportId } },
                reportId: report.reportId,
              }),
            ),
          });
          const answer = (await response.json()) as { outcome?: string };
          if (response.status === 200 && answer.outcome !== undefined) {
            acked.push({ ...report, outcome: answer.outcome });
          }
        } catch {
          // The process is gone: this report was never acknowledged.
        }
      }
    };
    const workers = Array.from({ length: 16 }, () => worker());
    // Kill in the middle of the load, not between requests.
    const loadUntil = Date.now() + 20_000;
    while (acked.length < 300 && Date.now() < loadUntil) {
      await sleep(10);
    }
    service.child.kill('SIGKILL');
    killed = true;
    await service.exited;
    await Promise.all(workers);

    const rows = await adminQuery<{ report_id: string; command_id: string; outcome: string }>(
      database.url,
      `SELECT payload->>'reportId' AS report_id, command_id, outcome FROM command_history`,
    );
    const stored = new Map(rows.map((row) => [row.report_id, row]));
    const missing = acked.filter((report) => !stored.has(report.reportId));
    expect(missing).toEqual([]);
    // Stored as acknowledged, and nothing stored that was not sent.
    for (const report of acked) {
      expect(stored.get(report.reportId)).toEqual({
        report_id: report.reportId,
        command_id: report.commandId,
        outcome: report.outcome,
      });
    }
    const sentIds = new Set(sent.map((report) => report.reportId));
    expect(rows.filter((row) => !sentIds.has(row.report_id))).toEqual([]);

    // The platform pushes again what was not acknowledged: a restarted service takes it.
    const restarted = await startService({ DATABASE_URL: database.url, LOG_LEVEL: 'warn' });
    services.push(restarted);
    const lost = sent.find((report) => !stored.has(report.reportId)) ?? sent[0];
    const again = await fetch(`${restarted.url}/callbacks/command-status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        callbackBody({ commandId: lost.commandId, result: { resultCode: lost.status } }),
      ),
    });
    expect(again.status).toBe(200);
    expect((await fetch(`${restarted.url}/health/ready`)).status).toBe(200);
  }, 120_000);
});

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/**
 * Sends the request line and headers with `Expect: 100-continue`, and resolves once the server
 * has answered 100 Continue: from then on the request is certainly in flight. finish() sends the
 * body and resolves with the final answer.
 */
async function startRequest(
  port: number,
  body: string,
): Promise<{ socket: Socket; finish(): Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  let answer = '';
  let onData = () => {};
  socket.on('data', (chunk: Buffer) => {
    answer += chunk.toString();
    onData();
  });
  const ended = new Promise<string>((done) => socket.once('close', () => done(answer)));
  socket.write(
    `POST /callbacks/command-status HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Expect: 100-continue\r\n\r\n`,
  );
  await new Promise<void>((done) => {
    onData = () => answer.startsWith(CONTINUE) && done();
  });
  return {
    socket,
    finish: async () => {
      socket.write(body);
      return (await ended).slice(CONTINUE.length);
    },
  };
}

async function refusesConnections(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(false);
    });
    socket.once('error', () => done(true));
  });
}

describe('SIGTERM', () => {
  let database: TestDatabase | undefined;
  let dataDir: string | undefined;
  let service: ServiceProcess | undefined;

  afterAll(async () => {
    await service?.kill();
    await database?.drop();
    if (dataDir !== undefined) {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  /** command_history rows of one command, read straight from the database the service used. */
  const storedHistory = async (commandId: string): Promise<{ status: string }[]> => {
    const sql = `SELECT status FROM command_history WHERE command_id = $1 ORDER BY id`;
    if (database !== undefined) {
      return adminQuery(database.url, sql, [commandId]);
    }
    const embedded = await EmbeddedPostgres.start(dataDir!);
    try {
      return await adminQuery(embedded.url, sql, [commandId]);
    } finally {
      await embedded.stop();
    }
  };

  it('stops accepting, finishes the request in flight, ends feeds, and exits 0 with it stored', async () => {
    let env: Record<string, string>;
    if (onServer) {
      database = await createTestDatabase();
      env = { DATABASE_URL: database.url };
    } else {
      dataDir = await mkdtemp(join(tmpdir(), 'command-tracker-sigterm-'));
      env = { PGLITE_DATA_DIR: dataDir };
    }
    const started = await startService(env);
    service = started;
    const port = Number(new URL(started.url).port);
    const warmUp = await fetch(`${service.url}/callbacks/command-status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(callbackBody()),
    });
    expect(warmUp.status).toBe(200);

    const body = callbackBody({ result: { resultCode: 'DELIVERED', resultDetail: { n: 1 } } });
    const inFlight = await startRequest(port, JSON.stringify(body));

    // A change feed subscriber must not hold the exit: its stream is ended.
    const feed = await new Promise<IncomingMessage>((resolve, reject) => {
      httpGet(`${started.url}/changes`, resolve).on('error', reject);
    });
    expect(feed.statusCode).toBe(200);
    feed.resume();
    const feedClosed = new Promise<void>((resolve) => feed.on('close', resolve));

    service.child.kill('SIGTERM');
    // New connections are refused while the request in flight is still open.
    const until = Date.now() + 5000;
    while (!(await refusesConnections(port)) && Date.now() < until) {
      await sleep(50);
    }
    expect(await refusesConnections(port)).toBe(true);
    expect(inFlight.socket.destroyed).toBe(false);

    const answer = await inFlight.finish();
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      commandId: body.commandId,
      status: 'DELIVERED',
      outcome: 'applied',
    });

    expect(await service.exited).toEqual({ code: 0, signal: null });
    await feedClosed;
    expect(service.output()).toContain('SIGTERM');
    expect(await storedHistory(body.commandId)).toEqual([{ status: 'DELIVERED' }]);
  }, 120_000);
});
