// The overload phase of npm run bench: the platform draining a backlog pushes at its own rate
// whatever the receiver's speed. Measures the service's capacity (closed loop), then offers
// open-loop arrivals at `factor` times that for `seconds`, and checks what docs/api.md promises: the
// excess answered 503 at once, goodput close to capacity, nothing acknowledged lost, the process
// alive with bounded memory, and normal answers right after.
import { randomBytes } from 'node:crypto';
import { load } from './load-worker.js';
import { openLoop } from './open-loop.js';
import { YardstickTraffic } from './yardstick.js';

export interface OverloadTarget {
  url: string;
  alive(): boolean;
  peakRssMb(): number;
  /** The embedded database's process (a child of the service); 0 on PostgreSQL. */
  databasePeakRssMb(): number;
}

export interface OverloadResult {
  database: string;
  capacity: number;
  offeredRate: number;
  /** Requests actually sent per second (the load generator shares the machine). */
  sentRate: number;
  goodput: number;
  ok: number;
  refused: number;
  other: number;
  errors: number;
  /** From the moment each request was sent (see Answer). */
  max503Ms: number;
  max200Ms: number;
  p99OkMs: number;
  /** How far behind its schedule the load generator sent, at most. */
  maxSendLagMs: number;
  /** The slowest 200 counted from its planned send time, generator lag included. */
  max200FromScheduleMs: number;
  acknowledgedLost: number;
  alive: boolean;
  peakRssMb: number;
  databasePeakRssMb: number;
  afterOk: number;
  afterTotal: number;
}

// Latency counts from the moment a request was written to its socket (bench/open-loop.ts); how far
// the generator fell behind its schedule is reported apart, and in max200FromScheduleMs.

/** Commands of `deviceId` the service has stored, read through its list API. */
async function storedCommands(url: string, deviceId: string): Promise<Set<string>> {
  const stored = new Set<string>();
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ deviceId, limit: '500' });
    if (cursor !== null) {
      query.set('cursor', cursor);
    }
    const response = await fetch(`${url}/commands?${query.toString()}`);
    if (!response.ok) {
      throw new Error(`GET /commands answered ${response.status}`);
    }
    const page = (await response.json()) as {
      items: { commandId: string }[];
      nextCursor: string | null;
    };
    page.items.forEach((item) => stored.add(item.commandId));
    cursor = page.nextCursor;
  } while (cursor !== null);
  return stored;
}

export async function overload(
  database: string,
  target: OverloadTarget,
  options: { seconds: number; factor: number; warmup: number },
): Promise<OverloadResult> {
  const traffic = new YardstickTraffic(99);
  await load(target.url, 16, options.warmup, {
    method: 'POST',
    path: '/callbacks/command-status',
    body: () => traffic.body(),
  });
  const measured = await load(target.url, 64, 5, {
    method: 'POST',
    path: '/callbacks/command-status',
    body: () => traffic.body(),
  });
  const capacity = measured.rps;
  const rate = capacity * options.factor;

  const deviceId = `overload-${randomBytes(4).toString('hex')}`;
  const commandOf = (index: number) => `${deviceId}-${index}`;
  const { hostname, port } = new URL(target.url);
  const total = Math.floor(rate * options.seconds);
  const start = performance.now();
  const answers = await openLoop({
    host: hostname,
    port: Number(port),
    path: '/callbacks/command-status',
    rate,
    total,
    maxConnections: 1024,
    body: (index) =>
      JSON.stringify({
        deviceId,
        commandId: commandOf(index),
        result: { resultCode: 'SENT', resultDetail: null },
      }),
  });
  const burstSeconds = (performance.now() - start) / 1000;
  const lastSent = answers.reduce(
    (latest, answer) => Math.max(latest, answer.index * (1000 / rate) + answer.lagMs),
    0,
  );
  const ok = answers.filter((answer) => answer.status === 200);
  const refused = answers.filter((answer) => answer.status === 503);
  const okMs = ok.map((answer) => answer.ms).sort((a, b) => a - b);
  const stored = await storedCommands(target.url, deviceId);
  const acknowledgedLost = ok.filter((answer) => !stored.has(commandOf(answer.index))).length;

  const after = await load(target.url, 16, 3, {
    method: 'POST',
    path: '/callbacks/command-status',
    body: () => traffic.body(),
  });
  return {
    database,
    capacity,
    offeredRate: rate,
    sentRate: total / (lastSent / 1000),
    goodput: ok.length / burstSeconds,
    ok: ok.length,
    refused: refused.length,
    other:
      answers.length - ok.length - refused.length - answers.filter((a) => a.status === 0).length,
    errors: answers.filter((answer) => answer.status === 0).length,
    max503Ms: refused.reduce((max, answer) => Math.max(max, answer.ms), 0),
    max200Ms: okMs.at(-1) ?? 0,
    p99OkMs: okMs[Math.floor(okMs.length * 0.99)] ?? 0,
    maxSendLagMs: answers.reduce((max, answer) => Math.max(max, answer.lagMs), 0),
    max200FromScheduleMs: ok.reduce((max, answer) => Math.max(max, answer.ms + answer.lagMs), 0),
    acknowledgedLost,
    alive: target.alive(),
    peakRssMb: target.peakRssMb(),
    databasePeakRssMb: target.databasePeakRssMb(),
    afterOk: after.requests - after.non2xx,
    afterTotal: after.requests,
  };
}

/** The overload rows as a table, with the verdict against docs/api.md's bounds and bench/README.md's targets. */
export function overloadTable(results: OverloadResult[]): string {
  const lines = [
    '| database | capacity req/s | offered req/s | sent req/s | goodput req/s | goodput / capacity | 200 | 503 | other | errors | max 503 ms | p99 200 ms | max 200 ms | max send lag ms | max 200 from schedule ms | acknowledged lost | alive | peak RSS MB | database process peak RSS MB | after: 200 / sent |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|',
  ];
  for (const r of results) {
    const verdict = [
      r.goodput >= 0.75 * r.capacity ? '' : 'goodput < 0.75x capacity',
      r.max503Ms <= 5000 ? '' : '503 slower than 5 s',
      r.max200Ms <= 15000 ? '' : '200 slower than 15 s',
      r.acknowledgedLost === 0 ? '' : 'acknowledged reports lost',
      r.alive ? '' : 'process died',
      r.peakRssMb < 256 ? '' : 'RSS >= 256 MB',
      r.afterOk === r.afterTotal ? '' : 'errors after the burst',
    ].filter((problem) => problem !== '');
    lines.push(
      `| ${r.database} | ${r.capacity.toFixed(0)} | ${r.offeredRate.toFixed(0)} | ${r.sentRate.toFixed(0)} | ` +
        `${r.goodput.toFixed(0)} | ${(r.goodput / r.capacity).toFixed(2)} | ${r.ok} | ${r.refused} | ` +
        `${r.other} | ${r.errors} | ${r.max503Ms.toFixed(0)} | ${r.p99OkMs.toFixed(0)} | ` +
        `${r.max200Ms.toFixed(0)} | ${r.maxSendLagMs.toFixed(0)} | ${r.max200FromScheduleMs.toFixed(0)} | ${r.acknowledgedLost} | ${r.alive ? 'yes' : 'NO'} | ` +
        `${r.peakRssMb.toFixed(0)} | ${r.databasePeakRssMb > 0 ? r.databasePeakRssMb.toFixed(0) : ''} | ` +
        `${r.afterOk} / ${r.afterTotal} |`,
    );
    lines.push(
      `\noverload on ${r.database}: ${verdict.length === 0 ? 'all bounds met' : verdict.join('; ')}\n`,
    );
  }
  return lines.join('\n');
}
