// npm run bench [-- --scale 0.1 --duration 15 --warmup 5 --rounds 2
//   --only callbacks|queries|overload|feed|dispatch|campaign --targets yardstick,service,service-unbatched,service-sinks --profile
//   --explain --query-rate 200 --keep-queries-database --dispatches 5000 --queued 100000
//   --campaign-devices 100000 --campaign-rates 6000,60000]
// Against DATABASE_URL (a PostgreSQL server where scratch databases may be created):
// 1. callbacks: each target, built, as a child process on a fresh scratch database, warmed up, then
//    autocannon at 16 and 64 connections with the same seeded traffic (yardstick.ts), the targets
//    alternating, `rounds` times;
// 2. queries: the service on a scratch database seeded with set-based SQL, autocannon at 16
//    connections on GET /commands/{id}, a device's first page, the first page and a deep page,
//    flat out (throughput) and at a fixed rate (latency without queueing in the load generator).
// Prints one table with each process's CPU per response; scratch databases are dropped at the end
// (--keep-queries-database keeps the seeded one for later runs instead). Not part of npm test.
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Agent, request as httpRequest } from 'node:http';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { FIND_WITH_HISTORY_SQL, type ListFilter, listStatement } from '../src/commands/sql/read.js';
import { migrateDatabase } from '../src/database/migrate.js';
import { FASTEST_RATE_PER_MINUTE, benchCampaignScale, campaignTable } from './campaign-scale.js';
import { type SendingBenchDeps, benchDispatch, dispatchTable } from './dispatch.js';
import { benchFeed, feedTable } from './feed.js';
import { type LoadResult, type PhaseLoad, load } from './load-worker.js';
import { compareReads } from './reads.js';
import { random } from '../tools/simulator.js';
import { YARDSTICK_SCHEMA_SQL, YardstickTraffic } from './yardstick.js';
import { type OverloadResult, overload, overloadTable } from './overload.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface Target {
  name: string;
  /** Node.js flags, then the script. */
  args: string[];
  env: Record<string, string>;
  /** Runs on the yardstick's own schema (yardstick.ts) instead of the service's migrations. */
  yardstick?: boolean;
}

/** The service is run as `npm start` runs it: bin/start's Node.js flags (the heap settings). */
function startArgs(): string[] {
  const script = readFileSync(join(ROOT, 'bin/start'), 'utf8');
  const [command, ...args] = (/^exec (.*)$/m.exec(script)?.[1] ?? '').split(/\s+/);
  if (command !== 'node' || args.at(-1) !== 'dist/src/main.js') {
    throw new Error(`bin/start runs something other than node dist/src/main.js`);
  }
  return args;
}

const SERVICE_ARGS = startArgs();

// VmHWM is the kernel's own peak resident set size of a process.
function peakRssMbOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8')
        .split(' ')
        .filter((word) => word.trim() !== '')
        .map(Number),
    );
  } catch {
    return [];
  }
}

/**
 * The glibc tuning of bin/start (npm start and the image), given to the service and the baseline
 * alike: it is a setting of the process, not of either one's code.
 */
function imageTunables(): Record<string, string> {
  const script = readFileSync(join(ROOT, 'bin/start'), 'utf8');
  const value = /GLIBC_TUNABLES:-([^}"]+)/.exec(script)?.[1];
  if (value === undefined) {
    throw new Error('bin/start sets no GLIBC_TUNABLES');
  }
  return { GLIBC_TUNABLES: value };
}

const RUNTIME_ENV = imageTunables();

const TARGETS: Record<string, Target> = {
  yardstick: { name: 'yardstick', args: ['dist/bench/yardstick.js'], env: {}, yardstick: true },
  'minimal-reader': { name: 'minimal reader', args: ['dist/bench/minimal-reader.js'], env: {} },
  service: { name: 'service', args: SERVICE_ARGS, env: { GROUP_COMMIT: 'true' } },
  'service-unbatched': {
    name: 'service-unbatched',
    args: SERVICE_ARGS,
    env: { GROUP_COMMIT: 'false' },
  },
  // All three event sinks on (docs/events.md): RabbitMQ and NATS on this machine, and a webhook
  // receiver in a process of its own; its URL is filled in when the receiver listens.
  'service-sinks': {
    name: 'service-sinks',
    args: SERVICE_ARGS,
    env: {
      GROUP_COMMIT: 'true',
      EVENTS_AMQP_URL: process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
      EVENTS_NATS_URL: process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222',
      EVENTS_NATS_SUBJECT: 'bench-commands',
      EVENTS_AMQP_EXCHANGE: 'command-tracker.bench',
      WEBHOOK_SECRET: `whsec_${Buffer.from('bench-webhook-secret-0123456789ab').toString('base64')}`,
    },
  },
};

/**
 * A webhook receiver for the service-sinks target, in a child process so that its CPU is not the
 * load generator's: it reads each body and answers 204.
 */
async function startWebhookReceiver(): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      '-e',
      `require('node:http').createServer((req, res) => { req.resume(); ` +
        `req.on('end', () => { res.statusCode = 204; res.end(); }); }).listen(${port}, '127.0.0.1')`,
    ],
    { stdio: 'ignore' },
  );
  for (let tries = 0; ; tries++) {
    try {
      await new Promise<void>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.destroy();
          resolve();
        });
        socket.on('error', reject);
      });
      break;
    } catch (error) {
      if (tries > 100) {
        child.kill('SIGKILL');
        throw error;
      }
      await sleep(50);
    }
  }
  return { url: `http://127.0.0.1:${port}/events`, stop: () => child.kill('SIGKILL') };
}

/**
 * Waits until every sink of the service has confirmed every change (events_lag_seconds 0), so
 * that no sink's backlog takes CPU from the next target's measurement; returns the seconds it took
 * and the deliveries per sink so far.
 */
async function sinksDrained(url: string): Promise<{ seconds: number; delivered: string }> {
  const started = Date.now();
  for (;;) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const lags = [...text.matchAll(/^events_lag_seconds\{sink="([^"]+)"\} (\S+)$/gm)];
    const delivered = [...text.matchAll(/^events_delivered_total\{sink="([^"]+)"\} (\S+)$/gm)]
      .map((m) => `${m[1]} ${m[2]}`)
      .join(', ');
    const seconds = (Date.now() - started) / 1000;
    if ((lags.length > 0 && lags.every((m) => Number(m[2]) === 0)) || seconds > 120) {
      return { seconds, delivered };
    }
    await sleep(250);
  }
}

interface Row extends LoadResult {
  target: string;
  load: string;
  peakRssMb?: number;
  serverCpuMs?: number;
  postgresCpuMs?: number;
  serverFaults?: number;
}

/** CPU time per response in the measured time, in ms: the server's and PostgreSQL's. */
interface CpuPerResponse {
  serverCpuMs: number;
  postgresCpuMs: number;
  /** The server's minor page faults per response (see GLIBC_TUNABLES in the Dockerfile). */
  serverFaults: number;
}

interface BenchOptions {
  server: string;
  scale: number;
  duration: number;
  warmup: number;
  only: 'all' | 'callbacks' | 'queries' | 'overload' | 'feed' | 'dispatch' | 'campaign';
  rounds: number;
  overloadSeconds: number;
  overloadFactor: number;
  overloadOn: string[];
  targets: string[];
  profile: boolean;
  explain: boolean;
  queryRate: number;
  /** Seed the queries' database once, keep it, and reuse it in later runs of the same scale. */
  keepQueriesDatabase: boolean;
  /** The dispatch phase: dispatches sent per mode, and dispatches queued for the memory reading. */
  dispatches: number;
  queued: number;
  /** The campaign phase's devices. */
  campaignDevices: number;
  /** The campaign phase's rates a minute, one run each. */
  campaignRates: number[];
}

function parseOptions(): BenchOptions {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      scale: { type: 'string', default: '1' },
      duration: { type: 'string', default: '15' },
      warmup: { type: 'string', default: '5' },
      only: { type: 'string', default: 'all' },
      rounds: { type: 'string', default: '2' },
      'overload-seconds': { type: 'string', default: '20' },
      'overload-factor': { type: 'string', default: '2.5' },
      'overload-on': { type: 'string', default: 'postgres,embedded' },
      targets: { type: 'string', default: 'yardstick,service' },
      profile: { type: 'boolean', default: false },
      explain: { type: 'boolean', default: false },
      'query-rate': { type: 'string', default: '200' },
      'keep-queries-database': { type: 'boolean', default: false },
      dispatches: { type: 'string', default: '5000' },
      queued: { type: 'string', default: '100000' },
      'campaign-devices': { type: 'string', default: '100000' },
      'campaign-rates': { type: 'string', default: `6000,${FASTEST_RATE_PER_MINUTE}` },
    },
  });
  const server = process.env.DATABASE_URL;
  if (server === undefined || server === '') {
    throw new Error('DATABASE_URL must name a PostgreSQL server where databases can be created');
  }
  const scale = Number(values.scale);
  if (!(scale > 0 && scale <= 1)) {
    throw new Error('--scale must be in (0, 1]');
  }
  const only = values.only;
  if (
    only !== 'all' &&
    only !== 'callbacks' &&
    only !== 'queries' &&
    only !== 'overload' &&
    only !== 'feed' &&
    only !== 'dispatch' &&
    only !== 'campaign'
  ) {
    throw new Error('--only must be callbacks, queries, overload, feed, dispatch or campaign');
  }
  const campaignRates = values['campaign-rates'].split(',').map(Number);
  if (!campaignRates.every((rate) => Number.isInteger(rate) && rate >= 1 && rate <= 60_000)) {
    throw new Error('--campaign-rates must be whole numbers from 1 to 60000, comma-separated');
  }
  const campaignDevices = Number(values['campaign-devices']);
  if (!(Number.isInteger(campaignDevices) && campaignDevices >= 1 && campaignDevices <= 100_000)) {
    throw new Error('--campaign-devices must be a whole number from 1 to 100000');
  }
  const targets = values.targets.split(',');
  for (const target of targets) {
    if (!(target in TARGETS)) {
      throw new Error(`unknown target ${target}; known: ${Object.keys(TARGETS).join(', ')}`);
    }
  }
  return {
    server,
    scale,
    duration: Number(values.duration),
    warmup: Number(values.warmup),
    only,
    rounds: Math.max(1, Number(values.rounds)),
    overloadSeconds: Number(values['overload-seconds']),
    overloadFactor: Number(values['overload-factor']),
    overloadOn: values['overload-on'].split(','),
    targets,
    profile: values.profile,
    explain: values.explain,
    queryRate: Number(values['query-rate']),
    keepQueriesDatabase: values['keep-queries-database'],
    dispatches: Math.max(1, Number(values.dispatches)),
    queued: Math.max(10, Number(values.queued)),
    campaignDevices,
    campaignRates,
  };
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString()) || 100;

/** A process's /proc/<pid>/stat fields after the command name (which may hold spaces). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * CPU time (user + system, ms) a process has used so far and the minor page faults it has taken
 * (the 14th, 15th and 10th fields of /proc/<pid>/stat); zeros once it is gone.
 */
function processUsage(pid: number): { cpuMs: number; minorFaults: number } {
  const fields = statFields(pid);
  if (fields === undefined) {
    return { cpuMs: 0, minorFaults: 0 };
  }
  return { cpuMs: cpuMsOf(fields), minorFaults: Number(fields[7]) };
}

function cpuMsOf(fields: string[]): number {
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/**
 * CPU time used so far by each of this machine's PostgreSQL backends serving `database` (their
 * process title names it), in ms, by pid and start time (a pid can be reused); all PostgreSQL
 * processes when no database is given. Backends only: on a shared machine the other databases'
 * backends are someone else's load. The WAL writer and checkpointer are left out, and so is an
 * embedded database, which runs in a child process of the service. Only meaningful when
 * DATABASE_URL is a server on this machine.
 */
function postgresBackendCpuMs(database?: string): Map<string, number> {
  const usage = new Map<string, number>();
  for (const entry of readdirSync('/proc')) {
    if (/^\d+$/.test(entry)) {
      try {
        if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') {
          continue;
        }
        if (database !== undefined) {
          const title = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
          if (!title.includes(` ${database} `)) {
            continue;
          }
        }
        const fields = statFields(Number(entry));
        if (fields !== undefined) {
          // starttime is the 22nd field of /proc/<pid>/stat.
          usage.set(`${entry}:${fields[19]}`, cpuMsOf(fields));
        }
      } catch {
        // The process has exited since the listing.
      }
    }
  }
  return usage;
}

/**
 * The CPU the backends used between two readings: each backend's own difference, so that one
 * that exits in between takes its earlier time with it instead of making the total shrink (its
 * time in between is lost: the figure can only be low, never negative).
 */
function postgresCpuBetween(before: Map<string, number>, after: Map<string, number>): number {
  let total = 0;
  for (const [backend, cpuMs] of after) {
    total += cpuMs - (before.get(backend) ?? 0);
  }
  return total;
}

/** Counts the server's and PostgreSQL's CPU from start() to the measured load's end. */
class CpuMeter {
  private server = { cpuMs: 0, minorFaults: 0 };
  private postgres = new Map<string, number>();

  constructor(
    private readonly serverPid: number,
    private readonly database?: string,
  ) {}

  start(): void {
    this.server = processUsage(this.serverPid);
    this.postgres = postgresBackendCpuMs(this.database);
  }

  /** The measured load with the server's and PostgreSQL's CPU per response. */
  per(result: LoadResult): LoadResult & CpuPerResponse {
    const responses = Math.max(1, result.requests);
    const server = processUsage(this.serverPid);
    return {
      ...result,
      serverCpuMs: (server.cpuMs - this.server.cpuMs) / responses,
      postgresCpuMs:
        postgresCpuBetween(this.postgres, postgresBackendCpuMs(this.database)) / responses,
      serverFaults: (server.minorFaults - this.server.minorFaults) / responses,
    };
  }
}

async function admin(server: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: server });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * The queries' database kept from an earlier run with --keep-queries-database (seeded: true), or
 * else a new one, kept the same way. Its drop() does nothing.
 */
async function keptDatabase(
  server: string,
  commands: number,
): Promise<{ url: string; seeded: boolean; drop(): Promise<void> }> {
  const name = `bench_q_kept_${commands}`;
  const client = new pg.Client({ connectionString: server });
  await client.connect();
  const { rowCount } = await client
    .query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    .finally(() => client.end());
  const url = withDatabase(server, name);
  if (rowCount === 1) {
    // Migrations added since it was seeded apply as they would to a production database.
    await migrateDatabase(url);
    return { url, seeded: true, drop: async () => {} };
  }
  // Created under another name and renamed once seeded: an interrupted seeding is not kept.
  const scratch = await scratchDatabase(server, 'q');
  return {
    url: scratch.url,
    seeded: false,
    drop: async () => {
      await admin(
        server,
        `ALTER DATABASE ${new URL(scratch.url).pathname.slice(1)} RENAME TO ${name}`,
      );
    },
  };
}

/** A fresh, migrated scratch database (or one with `schema`), dropped by the returned function. */
export async function scratchDatabase(
  server: string,
  tag: string,
  schema?: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `bench_${tag}_${randomBytes(4).toString('hex')}`;
  await admin(server, `CREATE DATABASE ${name}`);
  const url = withDatabase(server, name);
  if (schema === undefined) {
    await migrateDatabase(url);
  } else {
    await admin(url, schema);
  }
  return { url, drop: () => admin(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface Server {
  process: ChildProcess;
  url: string;
  cpu: CpuMeter;
  peakRssMb(): number;
  /** The peak resident sets of its child processes, added up (0 without any). */
  childrenPeakRssMb(): number;
  stop(): Promise<void>;
}

export async function startServer(
  target: Target,
  databaseUrl: string | undefined,
  options: Pick<BenchOptions, 'profile'>,
): Promise<Server> {
  const port = await freePort();
  const nodeArgs = options.profile
    ? ['--cpu-prof', '--cpu-prof-dir', join(ROOT, 'bench/results/profiles')]
    : [];
  if (options.profile) {
    await mkdir(join(ROOT, 'bench/results/profiles'), { recursive: true });
  }
  const child = spawn(process.execPath, [...nodeArgs, ...target.args], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
      NODE_ENV: 'development',
      ...RUNTIME_ENV,
      ...target.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`${target.name} exited with ${child.exitCode}: ${stderr}`);
    }
    if (Date.now() - started > 60_000) {
      child.kill('SIGKILL');
      throw new Error(`${target.name} did not listen within 60 s: ${stderr}`);
    }
    try {
      await fetch(`${url}/health/live`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const pid = child.pid ?? 0;
  return {
    process: child,
    url,
    cpu: new CpuMeter(
      pid,
      databaseUrl === undefined ? undefined : new URL(databaseUrl).pathname.slice(1),
    ),
    peakRssMb: () => peakRssMbOf(pid),
    // The embedded database runs in a child process of the service.
    childrenPeakRssMb: () => childPids(pid).reduce((sum, child) => sum + peakRssMbOf(child), 0),
    stop: () =>
      new Promise<void>((done) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          done();
        });
        child.kill('SIGTERM');
      }),
  };
}

/**
 * The platform's traffic over many commands: a window of commands in progress, each report picks
 * one of them at random and pushes its next status (SENT, DELIVERED, SUCCESSFUL); 5% of reports
 * repeat the previous one. Under concurrency some overtake each other (stale outcomes).
 */
export class CallbackTraffic {
  private readonly next: () => number;
  private readonly window: { id: number; step: number }[] = [];
  private nextId = 0;

  constructor(
    seed: number,
    private readonly windowSize = 2048,
    private readonly devices = 1000,
  ) {
    this.next = random(seed);
    for (let i = 0; i < windowSize; i++) {
      this.window.push({ id: this.nextId++, step: 0 });
    }
  }

  body(): string {
    const slot = Math.floor(this.next() * this.windowSize);
    const command = this.window[slot];
    const repeat = command.step > 0 && this.next() < 0.05;
    const step = repeat ? command.step - 1 : command.step;
    const status = ['SENT', 'DELIVERED', 'SUCCESSFUL'][step];
    if (!repeat) {
      command.step++;
      if (command.step === 3) {
        this.window[slot] = { id: this.nextId++, step: 0 };
      }
    }
    return JSON.stringify({
      deviceId: `bench-device-${command.id % this.devices}`,
      commandId: `bench-command-${command.id}`,
      result: { resultCode: status, resultDetail: status === 'SUCCESSFUL' ? { value: 1 } : null },
    });
  }
}

/**
 * A query phase's saturated load in a process with a heap of its own (see load-worker.ts): the
 * warm-up, then the measurement.
 */
function loadInWorker(phase: PhaseLoad, cpu: CpuMeter): Promise<LoadResult & CpuPerResponse> {
  return new Promise((resolvePhase, reject) => {
    const worker = fork(fileURLToPath(new URL('./load-worker.js', import.meta.url)), [], {
      serialization: 'advanced',
    });
    worker.on('message', (message) => {
      if (message === 'measuring') {
        cpu.start();
      } else {
        resolvePhase(cpu.per(message as LoadResult));
      }
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      reject(new Error(`the load generator exited with ${code} before reporting`));
    });
    worker.send(phase);
  });
}

/**
 * Open-loop load at an even pace: a request every 1/rate s on up to `connections` kept-alive
 * connections, whatever the answers do. Latency counts from the planned send time, so a stall
 * shows up in every request it delays (no coordinated omission). autocannon's rate option sends
 * each second's quota in a burst at the start of the second, which measures queueing behind that
 * burst rather than the service; this measures what a steady client sees.
 */
async function paced(
  url: string,
  connections: number,
  duration: number,
  path: () => string,
  rate: number,
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const inFlight: Promise<void>[] = [];
  const cpu = process.cpuUsage();
  const start = performance.now();
  const total = Math.floor(rate * duration);
  for (let i = 0; i < total; i++) {
    const planned = start + (i * 1000) / rate;
    const wait = planned - performance.now();
    if (wait > 0) {
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    inFlight.push(
      new Promise<void>((resolve) => {
        const req = httpRequest(`${url}${path()}`, { agent, timeout: 20_000 }, (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - planned);
            if (res.statusCode === undefined || res.statusCode >= 300) {
              non2xx++;
            }
            resolve();
          });
        });
        req.on('error', () => {
          errors++;
          resolve();
        });
        req.end();
      }),
    );
  }
  await Promise.all(inFlight);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const quantile = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  const used = process.cpuUsage(cpu);
  return {
    rps: latencies.length / ((performance.now() - start) / 1000),
    p50: quantile(0.5),
    p99: quantile(0.99),
    non2xx,
    errors,
    requests: latencies.length,
    loadCpuMs: (used.user + used.system) / 1000,
  };
}

async function benchCallbacks(options: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const running: { name: string; server: Server; database: { drop(): Promise<void> } }[] = [];
  const callback = (traffic: YardstickTraffic) => ({
    method: 'POST',
    path: '/callbacks/command-status',
    body: () => traffic.body(),
  });
  const receiver = options.targets.includes('service-sinks')
    ? await startWebhookReceiver()
    : undefined;
  try {
    for (const name of options.targets) {
      const target =
        name === 'service-sinks' && receiver !== undefined
          ? { ...TARGETS[name], env: { ...TARGETS[name].env, WEBHOOK_URL: receiver.url } }
          : TARGETS[name];
      const database = await scratchDatabase(
        options.server,
        'cb',
        target.yardstick === true ? YARDSTICK_SCHEMA_SQL : undefined,
      );
      running.push({ name, server: await startServer(target, database.url, options), database });
    }
    for (const { name, server } of running) {
      log(`${name}: warm-up ${options.warmup} s`);
      await load(server.url, 16, options.warmup, callback(new YardstickTraffic(1)));
      if (name === 'service-sinks') {
        await sinksDrained(server.url);
      }
    }
    // Alternating, so that the machine's drift during the run spreads over every target alike.
    for (let round = 1; round <= options.rounds; round++) {
      for (const connections of [16, 64]) {
        for (const { name, server } of running) {
          log(
            `${name}: callbacks at ${connections} connections, ${options.duration} s, round ${round}`,
          );
          server.cpu.start();
          const measured = server.cpu.per(
            await load(
              server.url,
              connections,
              options.duration,
              callback(new YardstickTraffic(round * 1000 + connections)),
            ),
          );
          rows.push({ target: name, load: `callbacks c${connections} #${round}`, ...measured });
          if (name === 'service-sinks') {
            const drained = await sinksDrained(server.url);
            log(
              `${name}: sinks caught up ${drained.seconds.toFixed(1)} s after the load; ` +
                `delivered so far: ${drained.delivered}`,
            );
          }
        }
      }
    }
    for (const { name, server } of running) {
      const peak = server.peakRssMb();
      for (const row of rows.filter((r) => r.target === name)) {
        row.peakRssMb = peak;
      }
    }
  } finally {
    for (const { server, database } of running) {
      await server.stop();
      await database.drop();
    }
    receiver?.stop();
  }
  return rows;
}

function commandIdOf(n: number): string {
  return createHash('md5').update(String(n)).digest('hex');
}

/** Set-based seeding: secondary indexes dropped and rebuilt, foreign keys not checked row by row. */
async function seed(url: string, commands: number, devices: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`SET maintenance_work_mem = '512MB'`);
    const { rows: indexes } = await client.query<{ name: string; definition: string }>(
      `SELECT indexname AS name, indexdef AS definition FROM pg_indexes
       WHERE tablename IN ('commands', 'command_history')
         AND indexname NOT IN (SELECT conname FROM pg_constraint)`,
    );
    for (const index of indexes) {
      await client.query(`DROP INDEX ${index.name}`);
    }
    await client.query(
      `INSERT INTO commands (command_id, device_id, status, rank, result_detail, service_id, method,
         paras, created_at, updated_at, deadline, sent_at, delivered_at, completed_at, version)
       SELECT md5(g::text), 'bench-device-' || (g % $2), s.status, s.rank,
              CASE s.status WHEN 'SUCCESSFUL' THEN '{"value": 1}'::jsonb
                            WHEN 'FAILED' THEN '{"reason": "send command failed"}'::jsonb END,
              'WaterMeter', 'SET_READ_PERIOD', '{"value": 5}'::jsonb,
              t.created, t.created + interval '3 s',
              -- Open commands are not overdue: the sweeper must not run a backlog during the bench.
              CASE WHEN s.rank < 3 THEN now() + interval '48 h' ELSE t.created + interval '48 h' END,
              t.created, t.created + interval '1 s',
              CASE WHEN s.rank >= 3 THEN t.created + interval '3 s' END, s.version
       FROM generate_series(1, $1::integer) g
         CROSS JOIN LATERAL (SELECT date_trunc('second', now()) - ($1::integer - g) * interval '250 ms' AS created) t
         CROSS JOIN LATERAL (SELECT * FROM (VALUES
           (0, 'SUCCESSFUL', 4, 3), (1, 'SUCCESSFUL', 4, 3), (2, 'SUCCESSFUL', 4, 3),
           (3, 'SUCCESSFUL', 4, 3), (4, 'SUCCESSFUL', 4, 3), (5, 'SUCCESSFUL', 4, 3),
           (6, 'SUCCESSFUL', 4, 3), (7, 'FAILED', 4, 3), (8, 'TIMEOUT', 3, 3), (9, 'DELIVERED', 2, 2)
         ) v(k, status, rank, version) WHERE v.k = g % 10) s`,
      [commands, devices],
    );
    // The history's foreign key is not checked row by row (the replica role skips it). Not for
    // the commands: that would skip the trigger that renders their JSON too.
    await client.query(`SET session_replication_role = replica`);
    await client.query(
      `INSERT INTO command_history (command_id, status, outcome, source, previous_status, version,
         result_detail, payload, received_at)
       SELECT c.command_id, h.status, h.outcome, 'callback', h.previous_status, h.version,
              CASE WHEN h.k = 3 THEN c.result_detail END,
              jsonb_build_object('deviceId', c.device_id, 'commandId', c.command_id,
                'result', jsonb_build_object('resultCode', h.status, 'resultDetail',
                  CASE WHEN h.k = 3 THEN c.result_detail END)),
              c.created_at + h.k * interval '1 s'
       FROM commands c CROSS JOIN LATERAL (VALUES
         (1, 'SENT', 'applied', NULL, 1),
         (2, 'DELIVERED', 'applied', 'SENT', 2),
         (3, c.status, CASE WHEN c.status = 'DELIVERED' THEN 'duplicate' ELSE 'applied' END,
             'DELIVERED', c.version)
       ) h(k, status, outcome, previous_status, version)
       ORDER BY c.created_at, h.k`,
    );
    await client.query(`SET session_replication_role = DEFAULT`);
    for (const index of indexes) {
      await client.query(index.definition);
    }
    await client.query(`VACUUM ANALYZE commands`);
    await client.query(`VACUUM ANALYZE command_history`);
    // Write the seed's dirty pages out now, not as a checkpoint during the measurements.
    // (Needs superuser or pg_checkpoint; without it the measurements may share the disk with it.)
    await client.query(`CHECKPOINT`).catch((error: unknown) => {
      log(`no CHECKPOINT after seeding: ${error instanceof Error ? error.message : String(error)}`);
    });
  } finally {
    await client.end();
  }
}

function pick0(n: number): number {
  return Math.max(1, Math.floor(n / 3));
}

/** The plans of the statements behind the query benchmarks, as the service issues them. */
async function explain(
  url: string,
  commandId: string,
  keyset: { created_at: Date; command_id: string },
): Promise<void> {
  const page = (filter: Omit<ListFilter, 'limit'>) => {
    const { text, values } = listStatement({ ...filter, limit: 50 });
    return [text, values] as const;
  };
  const statements: [string, string, unknown[]][] = [
    ['by id, with history', FIND_WITH_HISTORY_SQL, [commandId]],
    ["a device's first page", ...page({ deviceId: 'bench-device-7' })],
    ['first page', ...page({})],
    ['deep page', ...page({ after: { at: keyset.created_at, commandId: keyset.command_id } })],
  ];
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const [name, sql, params] of statements) {
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`,
        params,
      );
      console.error(`--- ${name}\n${rows.map((row) => row['QUERY PLAN']).join('\n')}`);
    }
  } finally {
    await client.end();
  }
}

// The read phases' comparison with the minimal reader, printed after the table.
const readSummary: string[] = [];

async function benchQueries(options: BenchOptions): Promise<Row[]> {
  const commands = Math.round(1_000_000 * options.scale);
  const devices = Math.max(100, Math.round(10_000 * options.scale));
  const database = options.keepQueriesDatabase
    ? await keptDatabase(options.server, commands)
    : { ...(await scratchDatabase(options.server, 'q')), seeded: false };
  const rows: Row[] = [];
  try {
    let seeding = 'reused, seeded by an earlier run';
    if (database.seeded) {
      log(`reusing the seeded database ${new URL(database.url).pathname.slice(1)}`);
    } else {
      log(`seeding ${commands} commands, ${commands * 3} history rows, ${devices} devices`);
      const started = Date.now();
      await seed(database.url, commands, devices);
      seeding = `${((Date.now() - started) / 1000).toFixed(1)} s`;
      log(`seeded in ${seeding}`);
    }

    // The cursor after page 1000 of 50 (or halfway, on a small scale): the keyset of that row.
    const depth = Math.min(1000 * 50, Math.floor(commands / 2));
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const { rows: keyset } = await client
      .query<{ created_at: Date; command_id: string }>(
        `SELECT created_at, command_id FROM commands
         ORDER BY created_at DESC, command_id DESC OFFSET $1 LIMIT 1`,
        [depth - 1],
      )
      .finally(() => client.end());
    const cursor = Buffer.from(
      JSON.stringify([keyset[0].created_at.toISOString(), keyset[0].command_id]),
    ).toString('base64url');

    if (options.explain) {
      await explain(database.url, commandIdOf(pick0(commands)), keyset[0]);
    }
    const next = random(7);
    const pick = (n: number) => 1 + Math.floor(next() * n);
    // More paths than requests at any rate seen here (about 9,000/s for 13 s).
    const randomPaths = (path: () => string) => Array.from({ length: 200_000 }, path);
    const minimal = await startServer(TARGETS['minimal-reader'], database.url, options);
    const server = await startServer(TARGETS.service, database.url, options);
    try {
      // Each query's phases are shorter than the callbacks': four queries, two loads each.
      const seconds = Math.min(options.duration, 10);
      const warmup = Math.min(options.warmup, 3);
      const compared = await compareReads<Server>({
        targets: [
          { name: 'minimal reader', server: minimal },
          { name: 'service', server },
        ],
        queries: [
          {
            name: 'GET /commands/{id}',
            paths: randomPaths(() => `/commands/${commandIdOf(pick(commands))}`),
          },
          {
            name: "a device's first page",
            paths: randomPaths(() => `/commands?deviceId=bench-device-${pick(devices) - 1}`),
          },
          { name: 'list, first page', paths: ['/commands'] },
          { name: `list, page ${depth / 50 + 1}`, paths: [`/commands?cursor=${cursor}`] },
        ],
        rounds: 2,
        saturated: (target, paths) =>
          loadInWorker(
            { url: target.url, connections: 16, warmup, duration: seconds, paths },
            target.cpu,
          ),
        paced: async (target, paths, rate) => {
          let turn = 0;
          target.cpu.start();
          return target.cpu.per(
            await paced(target.url, 16, seconds, () => paths[turn++ % paths.length], rate),
          );
        },
        log,
      });
      for (const row of compared.rows) {
        rows.push({
          ...row,
          peakRssMb: (row.target === 'service' ? server : minimal).peakRssMb(),
        });
      }
      readSummary.push(...compared.summary);
    } finally {
      await server.stop();
      await minimal.stop();
    }
    rows.push({
      target: `seeding (${commands} commands)`,
      load: seeding,
      rps: NaN,
      p50: NaN,
      p99: NaN,
      non2xx: 0,
      errors: 0,
      requests: 0,
      loadCpuMs: NaN,
    });
  } finally {
    await database.drop();
  }
  return rows;
}

/** The overload phase (overload.ts) on the service, on PostgreSQL and on the embedded database. */
async function benchOverload(options: BenchOptions): Promise<OverloadResult[]> {
  const results: OverloadResult[] = [];
  for (const on of options.overloadOn) {
    const embedded = on === 'embedded';
    const database = embedded
      ? { url: undefined, drop: async () => {} }
      : await scratchDatabase(options.server, 'ovl');
    const dataDir = embedded ? await mkdtemp(join(tmpdir(), 'bench-pglite-')) : undefined;
    const target: Target = {
      ...TARGETS.service,
      env: {
        ...TARGETS.service.env,
        ...(dataDir === undefined ? {} : { PGLITE_DATA_DIR: dataDir }),
      },
    };
    const server = await startServer(target, database.url, options);
    try {
      log(
        `overload on ${on}: capacity, then ${options.overloadFactor}x for ${options.overloadSeconds} s`,
      );
      results.push(
        await overload(
          on,
          {
            url: server.url,
            alive: () => server.process.exitCode === null && server.process.signalCode === null,
            peakRssMb: () => server.peakRssMb(),
            databasePeakRssMb: () => server.childrenPeakRssMb(),
          },
          {
            seconds: options.overloadSeconds,
            factor: options.overloadFactor,
            warmup: options.warmup,
          },
        ),
      );
    } finally {
      await server.stop();
      await database.drop();
      if (dataDir !== undefined) {
        await rm(dataDir, { recursive: true, force: true });
      }
    }
  }
  return results;
}

/** The change feed's phase (bench/feed.ts) on the service with group commit, on a fresh database. */
async function benchFeedPhase(options: BenchOptions): Promise<string> {
  const database = await scratchDatabase(options.server, 'feed');
  const server = await startServer(TARGETS.service, database.url, options);
  try {
    const traffic = new CallbackTraffic(7);
    const result = await benchFeed(
      { url: server.url, pid: server.process.pid ?? 0 },
      {
        duration: options.duration,
        warmup: options.warmup,
        callbackBody: () => traffic.body(),
        devices: 1000,
        log,
      },
    );
    return feedTable(result);
  } finally {
    await server.stop();
    await database.drop();
  }
}

/** What the sending phases (dispatch.ts, campaign-scale.ts) take from here. */
function sendingDeps(options: BenchOptions): SendingBenchDeps {
  return {
    startService: (databaseUrl, env) =>
      startServer(
        { ...TARGETS.service, env: { ...TARGETS.service.env, ...env } },
        databaseUrl,
        options,
      ),
    scratchDatabase: (tag) => scratchDatabase(options.server, tag),
    log,
  };
}

function log(message: string): void {
  console.error(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
}

function table(rows: Row[]): string {
  const number = (value: number, digits = 0) => (Number.isNaN(value) ? '' : value.toFixed(digits));
  const optional = (value: number | undefined, digits = 0) =>
    value === undefined ? '' : number(value, digits);
  const lines = [
    '| target | load | req/s | p50 ms | p99 ms | non-2xx | errors | peak RSS MB | ' +
      'CPU ms/req: server | PostgreSQL | load generator | server page faults/req |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (row) =>
        `| ${row.target} | ${row.load} | ${number(row.rps)} | ${number(row.p50)} | ${number(row.p99)} | ` +
        `${row.non2xx} | ${row.errors} | ${optional(row.peakRssMb)} | ` +
        `${optional(row.serverCpuMs, 3)} | ${optional(row.postgresCpuMs, 3)} | ` +
        `${row.requests > 0 ? number(row.loadCpuMs / row.requests, 3) : ''} | ` +
        `${optional(row.serverFaults, 2)} |`,
    ),
  ];
  const yardstick = rows.filter((row) => row.target === 'yardstick');
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? '?' : (a / b).toFixed(2);
  for (const row of rows) {
    const base = yardstick.find((b) => b.load === row.load);
    if (base !== undefined && row.target !== 'yardstick') {
      lines.push(
        `\n${row.target} / yardstick, ${row.load}: throughput ${ratio(row.rps, base.rps)}x, ` +
          `p99 ${ratio(row.p99, base.p99)}x (${(row.p99 - base.p99).toFixed(0)} ms), ` +
          `CPU per report: server ${ratio(row.serverCpuMs, base.serverCpuMs)}x, ` +
          `PostgreSQL ${ratio(row.postgresCpuMs, base.postgresCpuMs)}x`,
      );
    }
    const none = rows.find((b) => b.target === 'service' && b.load === row.load);
    if (row.target === 'service-sinks' && none !== undefined) {
      lines.push(
        `\nservice-sinks / service, ${row.load}: throughput ${ratio(row.rps, none.rps)}x, ` +
          `p99 ${ratio(row.p99, none.p99)}x, CPU per report: server ` +
          `${ratio(row.serverCpuMs, none.serverCpuMs)}x, PostgreSQL ` +
          `${ratio(row.postgresCpuMs, none.postgresCpuMs)}x`,
      );
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions();
  const started = Date.now();
  const rows: Row[] = [];
  if (options.only === 'all' || options.only === 'callbacks') {
    rows.push(...(await benchCallbacks(options)));
  }
  if (options.only === 'all' || options.only === 'queries') {
    rows.push(...(await benchQueries(options)));
  }
  const overloads =
    options.only === 'all' || options.only === 'overload' ? await benchOverload(options) : [];
  let feed = '';
  if (options.only === 'all' || options.only === 'feed') {
    feed = await benchFeedPhase(options);
  }
  // Several minutes each (bench/README.md): run with --only, not part of `all`.
  const dispatch =
    options.only === 'dispatch'
      ? dispatchTable(
          await benchDispatch(sendingDeps(options), {
            dispatches: options.dispatches,
            queued: options.queued,
            idleSeconds: 30,
          }),
        )
      : '';
  const campaign =
    options.only === 'campaign'
      ? campaignTable(
          await benchCampaignScale(sendingDeps(options), {
            devices: options.campaignDevices,
            rates: options.campaignRates,
          }),
        )
      : '';
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (rows.length > 0) {
    console.log(table(rows));
  }
  if (readSummary.length > 0) {
    console.log(`\nReads against the minimal reader:\n${readSummary.join('\n')}`);
  }
  if (overloads.length > 0) {
    console.log(`\n${overloadTable(overloads)}`);
  }
  if (feed !== '') {
    console.log(`\n${feed}`);
  }
  if (dispatch !== '') {
    console.log(`\n${dispatch}`);
  }
  if (campaign !== '') {
    console.log(`\n${campaign}`);
  }
}

main().catch((error: unknown) => {
  console.error('Benchmark failed:', error instanceof Error ? error.message : error);
  process.exit(1);
});
