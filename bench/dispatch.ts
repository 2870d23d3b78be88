// The dispatch phase of `npm run bench` (--only dispatch): the service, as `npm start` runs it,
// sending through the IoTDA emulator (tools/platform-emulator.ts, in the bench's process) with
// DISPATCH_RATE at its maximum.
// 1. Throughput, per mode (async: CreateAsyncCommand; sync: CreateCommand, answered at once):
//    N dispatches to N devices are queued through POST /dispatches with one notBefore in the
//    future, so that all of them fall due at the same moment; then the time from that moment to
//    the last one `sent` (database timestamps), and the server's and PostgreSQL's CPU per dispatch.
// 2. Memory: the service's resident set with 10 and with 100,000 dispatches queued (notBefore two
//    hours ahead, so they stay queued), each read after the service has idled a while. The first
//    10 go through POST /dispatches; the rest are inserted as the queue's rows by SQL, as
//    test/sending/queue-memory.e2e.spec.ts does: POST /dispatches runs at 50 to 150 a second on
//    the shared bench machine, and what the service holds depends on the rows, not on their way in.
import { Agent, request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Server } from './bench.js';
import { PlatformEmulator } from '../tools/platform-emulator.js';

/** What the phases need from bench.ts (which runs its main() when imported). */
export interface SendingBenchDeps {
  /** The service as `npm start` runs it on `databaseUrl`, with `env` added. */
  startService(databaseUrl: string, env: Record<string, string>): Promise<Server>;
  /** A fresh, migrated scratch database. */
  scratchDatabase(tag: string): Promise<{ url: string; drop(): Promise<void> }>;
  log(message: string): void;
}

export interface PlatformService {
  server: Server;
  emulator: PlatformEmulator;
  databaseUrl: string;
  /** SQL on the service's database, from the bench's own connection. */
  query<T extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>;
}

const PROJECT_ID = 'bench-project';
const KEYS = { ak: 'BENCHACCESSKEY0001', sk: 'bench-secret-signing-key-0001' };
/** The largest DISPATCH_RATE the service accepts (docs/api.md). */
export const MAX_DISPATCH_RATE = 1000;

/**
 * The emulator, a scratch database and the service pointed at both, for `run`; all stopped after.
 * The emulator's forwarding rule points at the service's POST /callbacks/iotda.
 */
export async function withPlatformService<T>(
  deps: SendingBenchDeps,
  tag: string,
  env: Record<string, string>,
  run: (service: PlatformService) => Promise<T>,
): Promise<T> {
  const iotda = { projectId: PROJECT_ID, credentials: { [KEYS.ak]: KEYS.sk }, forwardingUrl: '' };
  const emulator = await PlatformEmulator.start({ iotda, pushLossRate: 0 });
  // The emulator records every call for the tests; a bench's hundred thousand are not read.
  const forget = setInterval(() => emulator.calls.splice(0), 1000);
  const database = await deps.scratchDatabase(tag);
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  let server: Server | undefined;
  try {
    server = await deps.startService(database.url, {
      PLATFORM: 'iotda',
      IOTDA_ENDPOINT: emulator.url,
      IOTDA_PROJECT_ID: PROJECT_ID,
      IOTDA_AK: KEYS.ak,
      IOTDA_SK: KEYS.sk,
      DISPATCH_RATE: String(MAX_DISPATCH_RATE),
      ...env,
    });
    iotda.forwardingUrl = `${server.url}/callbacks/iotda`;
    return await run({
      server,
      emulator,
      databaseUrl: database.url,
      query: async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) =>
        (await client.query<R>(sql, params)).rows,
    });
  } finally {
    await server?.stop();
    clearInterval(forget);
    await client.end();
    await emulator.close();
    await database.drop();
  }
}

/** The resident set now (VmRSS) and its peak so far (VmHWM), in MB. */
export function memoryOf(pid: number): { rssMb: number; peakRssMb: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) =>
      Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
    return { rssMb: kb('VmRSS'), peakRssMb: kb('VmHWM') };
  } catch {
    return { rssMb: 0, peakRssMb: 0 };
  }
}

/**
 * `count` POSTs of `body(i)` to `path` on up to `concurrency` kept-alive connections; the answers
 * by status and the seconds it took.
 */
export async function postMany(
  url: string,
  path: string,
  count: number,
  concurrency: number,
  body: (i: number) => string,
): Promise<{ seconds: number; statuses: Record<string, number> }> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses: Record<string, number> = {};
  let next = 0;
  const started = performance.now();
  const one = (text: string) =>
    new Promise<string>((resolve) => {
      const request = httpRequest(
        `${url}${path}`,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json' },
          timeout: 30_000,
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(String(response.statusCode)));
        },
      );
      request.on('error', () => resolve('error'));
      request.end(text);
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const status = await one(body(next++));
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    }),
  );
  agent.destroy();
  return { seconds: (performance.now() - started) / 1000, statuses };
}

export function dispatchBody(deviceId: string, mode: 'async' | 'sync', notBefore?: Date): string {
  return JSON.stringify({
    deviceId,
    serviceId: 'WaterMeter',
    method: 'SET_READ_PERIOD',
    paras: { value: 5 },
    mode,
    ...(notBefore === undefined ? {} : { notBefore: notBefore.toISOString() }),
  });
}

interface DispatchCounts {
  open: number;
  sent: number;
  other: number;
}

async function countsOf(service: PlatformService, prefix: string): Promise<DispatchCounts> {
  const [row] = await service.query<{ open: number; sent: number; other: number }>(
    `SELECT count(*) FILTER (WHERE state IN ('queued', 'sending'))::int AS open,
            count(*) FILTER (WHERE state = 'sent')::int AS sent,
            count(*) FILTER (WHERE state NOT IN ('queued', 'sending', 'sent'))::int AS other
     FROM dispatches WHERE device_id LIKE $1 || '%'`,
    [prefix],
  );
  return row;
}

/** Waits until no dispatch of devices named `prefix...` is open, or `timeoutMs` passed. */
async function closed(
  service: PlatformService,
  prefix: string,
  timeoutMs: number,
): Promise<DispatchCounts> {
  const started = Date.now();
  for (;;) {
    const counts = await countsOf(service, prefix);
    if (counts.open === 0 || Date.now() - started > timeoutMs) {
      return counts;
    }
    await sleep(250);
  }
}

export interface DispatchThroughput {
  mode: 'async' | 'sync';
  dispatches: number;
  /** POST /dispatches answers a second while queueing, and their statuses. */
  enqueuePerSecond: number;
  enqueueStatuses: Record<string, number>;
  /** Whether every POST had been answered before the dispatches fell due. */
  queuedBeforeDue: boolean;
  sent: number;
  other: number;
  /** From the moment they fell due to the last one sent (database clock). */
  seconds: number;
  perSecond: number;
  /** How long the dispatches waited after falling due: half of them, and the last one, in s. */
  waitP50: number;
  waitMax: number;
  serverCpuMs: number;
  postgresCpuMs: number;
  peakRssMb: number;
}

export interface QueueMemory {
  queued: number;
  rssMb: number;
  peakRssMb: number;
}

export interface DispatchBenchResult {
  throughput: DispatchThroughput[];
  memory: QueueMemory[];
  /** Seconds the SQL insert of the queued dispatches took. */
  memoryInsertSeconds: number;
}

const CONCURRENCY = 32;

async function throughput(
  deps: SendingBenchDeps,
  mode: 'async' | 'sync',
  count: number,
): Promise<DispatchThroughput> {
  return withPlatformService(deps, `dsp_${mode}`, {}, async (service) => {
    const { server } = service;
    // Warm-up: both the POST and the sending path, sent as they come.
    const warmCount = Math.min(500, count);
    deps.log(`dispatch ${mode}: warm-up, ${warmCount} dispatches sent as they come`);
    const warm = await postMany(server.url, '/dispatches', warmCount, CONCURRENCY, (i) =>
      dispatchBody(`warm-${i}`, mode),
    );
    await closed(service, 'warm-', 120_000);
    // Queued with room to spare: the warm-up's rate was measured while sending too.
    const margin = Math.max(5, (count / (warmCount / warm.seconds)) * 1.5 + 3);
    const due = new Date(Math.ceil((Date.now() + margin * 1000) / 1000) * 1000);
    deps.log(`dispatch ${mode}: queueing ${count}, due at ${due.toISOString()}`);
    const enqueue = await postMany(server.url, '/dispatches', count, CONCURRENCY, (i) =>
      dispatchBody(`bench-${i}`, mode, due),
    );
    const queuedBeforeDue = Date.now() < due.getTime();
    await sleep(Math.max(0, due.getTime() - Date.now()));
    server.cpu.start();
    const counts = await closed(service, 'bench-', 600_000);
    const cpu = server.cpu.per({
      rps: 0,
      p50: 0,
      p99: 0,
      non2xx: 0,
      errors: 0,
      requests: count,
      loadCpuMs: 0,
    });
    const [timing] = await service.query<{ last: number; p50: number; max: number }>(
      `SELECT extract(epoch FROM max(updated_at) - $1::timestamptz)::float8 AS last,
              extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY updated_at - $1::timestamptz))::float8 AS p50,
              extract(epoch FROM max(updated_at - $1::timestamptz))::float8 AS max
       FROM dispatches WHERE device_id LIKE 'bench-%' AND state = 'sent'`,
      [due],
    );
    deps.log(
      `dispatch ${mode}: ${counts.sent} sent in ${timing.last.toFixed(1)} s after falling due`,
    );
    return {
      mode,
      dispatches: count,
      enqueuePerSecond: count / enqueue.seconds,
      enqueueStatuses: enqueue.statuses,
      queuedBeforeDue,
      sent: counts.sent,
      other: counts.other + counts.open,
      seconds: timing.last,
      perSecond: counts.sent / timing.last,
      waitP50: timing.p50,
      waitMax: timing.max,
      serverCpuMs: cpu.serverCpuMs,
      postgresCpuMs: cpu.postgresCpuMs,
      peakRssMb: server.peakRssMb(),
    };
  });
}

/** The service's memory after idling `seconds` (its loops keep polling the queue meanwhile). */
async function idleMemory(
  pid: number,
  seconds: number,
): Promise<{ rssMb: number; peakRssMb: number }> {
  await sleep(seconds * 1000);
  return memoryOf(pid);
}

async function queueMemory(
  deps: SendingBenchDeps,
  queued: number,
  idleSeconds: number,
): Promise<{ memory: QueueMemory[]; insertSeconds: number }> {
  return withPlatformService(deps, 'dsp_mem', {}, async (service) => {
    const { server } = service;
    const pid = server.process.pid ?? 0;
    const later = new Date(Date.now() + 2 * 3600_000);
    const memory: QueueMemory[] = [];
    const few = Math.min(10, queued);
    await postMany(server.url, '/dispatches', few, 1, (i) =>
      dispatchBody(`held-${i}`, 'async', later),
    );
    deps.log(`dispatch memory: ${few} queued, idling ${idleSeconds} s`);
    memory.push({ queued: few, ...(await idleMemory(pid, idleSeconds)) });
    deps.log(`dispatch memory: inserting ${queued - few} more`);
    const started = performance.now();
    // In batches: one statement per 10,000 rows.
    for (let from = few; from < queued; from += 10_000) {
      await service.query(
        `INSERT INTO dispatches (dispatch_id, request_hash, device_id, service_id, method, paras,
           send_strategy, mode, not_before, send_by, state, next_attempt_at, created_at, updated_at)
         SELECT 'held-' || i, 'h', 'held-' || i, 'WaterMeter', 'SET_READ_PERIOD', '{"value":5}',
           'immediately', 'async', $1, $1::timestamptz + interval '1 day', 'queued', $1, now(), now()
         FROM generate_series($2::int, $3::int) AS i`,
        [later, from, Math.min(queued, from + 10_000) - 1],
      );
    }
    const insertSeconds = (performance.now() - started) / 1000;
    const [{ n }] = await service.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM dispatches WHERE state = 'queued'`,
    );
    deps.log(`dispatch memory: ${n} queued, idling ${idleSeconds} s`);
    memory.push({ queued: n, ...(await idleMemory(pid, idleSeconds)) });
    return { memory, insertSeconds };
  });
}

export async function benchDispatch(
  deps: SendingBenchDeps,
  options: { dispatches: number; queued: number; idleSeconds: number },
): Promise<DispatchBenchResult> {
  const result: DispatchBenchResult = { throughput: [], memory: [], memoryInsertSeconds: 0 };
  for (const mode of ['async', 'sync'] as const) {
    result.throughput.push(await throughput(deps, mode, options.dispatches));
  }
  const memory = await queueMemory(deps, options.queued, options.idleSeconds);
  result.memory = memory.memory;
  result.memoryInsertSeconds = memory.insertSeconds;
  return result;
}

export function dispatchTable(result: DispatchBenchResult): string {
  const lines = [
    `| mode | dispatches | POST /dispatches/s | sent | other | due → last sent s | sent/s | ` +
      `wait p50 s | CPU ms/dispatch: server | PostgreSQL | peak RSS MB |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...result.throughput.map(
      (t) =>
        `| ${t.mode} | ${t.dispatches} | ${t.enqueuePerSecond.toFixed(0)} | ${t.sent} | ${t.other} | ` +
        `${t.seconds.toFixed(1)} | ${t.perSecond.toFixed(0)} | ${t.waitP50.toFixed(1)} | ` +
        `${t.serverCpuMs.toFixed(3)} | ${t.postgresCpuMs.toFixed(3)} | ${t.peakRssMb.toFixed(0)} |`,
    ),
  ];
  for (const t of result.throughput) {
    const statuses = Object.entries(t.enqueueStatuses)
      .map(([status, n]) => `${status} ${n}`)
      .join(', ');
    lines.push(
      `\n${t.mode}: POST answers ${statuses}` +
        (t.queuedBeforeDue ? '' : '; NOT all queued before they fell due (the figures are low)'),
    );
  }
  lines.push(
    '',
    `| dispatches queued | RSS MB (VmRSS, after idling) | peak RSS MB (VmHWM) |`,
    '|---:|---:|---:|',
    ...result.memory.map(
      (m) => `| ${m.queued} | ${m.rssMb.toFixed(0)} | ${m.peakRssMb.toFixed(0)} |`,
    ),
    `\nThe first 10 queued through POST /dispatches, the rest inserted by SQL ` +
      `(${result.memoryInsertSeconds.toFixed(1)} s), all due in two hours.`,
  );
  return lines.join('\n');
}
