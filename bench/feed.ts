// The change feed's phase of `npm run bench` (--only feed): on one service on a fresh database,
// 1. latency from a callback's 200 to its event at a feed client, at an even 200 callbacks/s;
// 2. callback throughput (autocannon, 64 connections) with 0 and with 500 connected feed clients,
//    alternating 0, 500, 0, 500 in one run so that drift on a shared machine hits both alike;
// 3. the service's resident memory with 1,000 connected clients while callbacks flow.
// Feed clients other than the latency probe subscribe to one device each (?deviceId=), as a
// dashboard of a device does; the probe takes the whole feed.
import { Agent, type IncomingMessage, request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { type LoadResult, load } from './load-worker.js';

export interface FeedBenchServer {
  url: string;
  pid: number;
}

export interface FeedBenchOptions {
  duration: number;
  warmup: number;
  /** A callback body for the throughput phases (the bench's platform traffic). */
  callbackBody: () => string;
  /** How many devices callbackBody spreads over, named bench-device-<n>. */
  devices: number;
  log: (message: string) => void;
}

export interface FeedBenchResult {
  latency: {
    rate: number;
    events: number;
    missing: number;
    p50: number;
    p99: number;
    max: number;
    /** The most command_feed_holdback_seconds showed, sampled every 100 ms, in ms. */
    maxHoldback: number;
  };
  throughput: { clients: number; result: LoadResult }[];
  rss: { clients: number; rssMb: number; peakRssMb: number };
}

const LATENCY_RATE = 200;
const CLIENTS_FOR_THROUGHPUT = 500;
const CLIENTS_FOR_RSS = 1000;

/** A connected GET /changes client that counts what it receives. */
interface FeedClient {
  response: IncomingMessage;
  close(): void;
}

async function openFeed(
  url: string,
  agent: Agent,
  onData?: (chunk: string) => void,
): Promise<FeedClient> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { agent, headers: { accept: 'text/event-stream' } });
    request.once('response', (response) => {
      if (response.statusCode !== 200) {
        reject(new Error(`GET /changes answered ${response.statusCode}`));
        response.resume();
        return;
      }
      response.setEncoding('utf8');
      if (onData === undefined) {
        response.resume();
      } else {
        response.on('data', onData);
      }
      response.on('error', () => undefined);
      resolve({ response, close: () => request.destroy() });
    });
    request.once('error', reject);
    request.end();
  });
}

async function openDeviceFeeds(
  base: string,
  agent: Agent,
  count: number,
  devices: number,
  from = 0,
): Promise<FeedClient[]> {
  const clients: FeedClient[] = [];
  for (let i = from; i < from + count; i++) {
    clients.push(await openFeed(`${base}/changes?deviceId=bench-device-${i % devices}`, agent));
  }
  return clients;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** Posts one callback; resolves with the time its 200 arrived. */
function post(base: string, agent: Agent, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      `${base}/callbacks/command-status`,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (response) => {
        response.resume();
        response.on('end', () =>
          response.statusCode === 200
            ? resolve(performance.now())
            : reject(new Error(`callback answered ${response.statusCode}`)),
        );
      },
    );
    request.once('error', reject);
    request.end(body);
  });
}

/** Callbacks of new commands at an even `rate`; each one's 200 and its event are timed. */
async function latency(
  base: string,
  rate: number,
  duration: number,
): Promise<FeedBenchResult['latency']> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const answered = new Map<string, number>();
  const arrived = new Map<string, number>();
  let buffer = '';
  const run = `feed-latency-${Date.now()}`;
  const probe = await openFeed(`${base}/changes`, agent, (chunk) => {
    const now = performance.now();
    buffer += chunk;
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const data = /^data: (.*)$/m.exec(buffer.slice(0, end))?.[1];
      buffer = buffer.slice(end + 2);
      const commandId =
        data === undefined ? undefined : (JSON.parse(data) as { commandId: string }).commandId;
      // Only this run's: reports of an earlier phase may still be committing.
      if (commandId?.startsWith(run) === true) {
        arrived.set(commandId, now);
      }
    }
  });
  let maxHoldback = 0;
  const sampler = setInterval(() => {
    fetch(`${base}/metrics`)
      .then((response) => response.text())
      .then((text) => {
        const seconds = Number(/^command_feed_holdback_seconds (\S+)$/m.exec(text)?.[1]);
        maxHoldback = Math.max(maxHoldback, Number.isNaN(seconds) ? 0 : seconds * 1000);
      })
      .catch(() => undefined);
  }, 100);
  const total = Math.floor(rate * duration);
  const start = performance.now();
  const sent: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) {
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    const commandId = `${run}-${i}`;
    const body = JSON.stringify({
      deviceId: `${run}-device`,
      commandId,
      result: { resultCode: 'SENT', resultDetail: null },
    });
    sent.push(post(base, agent, body).then((at) => void answered.set(commandId, at)));
  }
  await Promise.all(sent);
  // Events still on their way: up to 30 s more (a long transaction anywhere on the server holds
  // the feed back, see docs/change-feed.md).
  const deadline = performance.now() + 30_000;
  while (arrived.size < total && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  clearInterval(sampler);
  probe.close();
  agent.destroy();
  // An event can arrive before its 200 (the feed is read after the commit, the 200 is sent after
  // it too): that counts as no delay.
  const delays = [...answered]
    .filter(([id]) => arrived.has(id))
    .map(([id, at]) => Math.max(0, (arrived.get(id) ?? at) - at))
    .sort((a, b) => a - b);
  return {
    rate,
    events: delays.length,
    missing: total - delays.length,
    p50: quantile(delays, 0.5),
    p99: quantile(delays, 0.99),
    max: delays.at(-1) ?? Number.NaN,
    maxHoldback,
  };
}

function rssMb(pid: number): { rssMb: number; peakRssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}

export async function benchFeed(
  server: FeedBenchServer,
  options: FeedBenchOptions,
): Promise<FeedBenchResult> {
  const { url: base, pid } = server;
  const callback = {
    method: 'POST',
    path: '/callbacks/command-status',
    body: options.callbackBody,
  };
  options.log(`feed: warm-up ${options.warmup} s`);
  await load(base, 16, options.warmup, callback);

  options.log(`feed: latency from a callback's 200 to its event, ${LATENCY_RATE}/s`);
  const latencyResult = await latency(base, LATENCY_RATE, options.duration);

  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS_FOR_RSS + 10 });
  const throughput: FeedBenchResult['throughput'] = [];
  let clients: FeedClient[] = [];
  for (const count of [0, CLIENTS_FOR_THROUGHPUT, 0, CLIENTS_FOR_THROUGHPUT]) {
    for (const client of clients.splice(0)) {
      client.close();
    }
    clients = await openDeviceFeeds(base, agent, count, options.devices);
    options.log(
      `feed: callbacks at 64 connections with ${count} feed clients, ${options.duration} s`,
    );
    throughput.push({ clients: count, result: await load(base, 64, options.duration, callback) });
  }

  options.log(`feed: ${CLIENTS_FOR_RSS} feed clients, callbacks at ${LATENCY_RATE}/s`);
  // Together with the latency probe, CLIENTS_FOR_RSS clients (the default CHANGES_MAX_CLIENTS).
  clients.push(
    ...(await openDeviceFeeds(
      base,
      agent,
      CLIENTS_FOR_RSS - 1 - clients.length,
      options.devices,
      clients.length,
    )),
  );
  await latency(base, LATENCY_RATE, Math.min(options.duration, 10));
  const rss = { clients: clients.length + 1, ...rssMb(pid) };
  for (const client of clients) {
    client.close();
  }
  agent.destroy();
  return { latency: latencyResult, throughput, rss };
}

/** The phase's figures as Markdown. */
export function feedTable(result: FeedBenchResult): string {
  const { latency: l, throughput, rss } = result;
  const mean = (clients: number) => {
    const runs = throughput.filter((t) => t.clients === clients);
    return runs.reduce((sum, t) => sum + t.result.rps, 0) / Math.max(1, runs.length);
  };
  const without = mean(0);
  const withClients = mean(CLIENTS_FOR_THROUGHPUT);
  return [
    '| feed | figure |',
    '|---|---:|',
    `| callback 200 to event, p50 at ${l.rate}/s | ${l.p50.toFixed(1)} ms |`,
    `| callback 200 to event, p99 at ${l.rate}/s (target <= 250) | ${l.p99.toFixed(1)} ms |`,
    `| callback 200 to event, max at ${l.rate}/s | ${l.max.toFixed(1)} ms |`,
    `| events received / missing | ${l.events} / ${l.missing} |`,
    `| most command_feed_holdback_seconds seen meanwhile (100 ms samples) | ${l.maxHoldback.toFixed(0)} ms |`,
    ...throughput.map(
      (t, i) =>
        `| callbacks/s, c64, ${t.clients} feed clients (run ${i + 1}) | ${t.result.rps.toFixed(0)} (p99 ${t.result.p99} ms, non-2xx ${t.result.non2xx}) |`,
    ),
    `| callbacks/s with ${CLIENTS_FOR_THROUGHPUT} clients / with 0 (target >= 0.90) | ${(withClients / without).toFixed(3)} |`,
    `| RSS with ${rss.clients} feed clients (target <= 300) | ${rss.rssMb.toFixed(0)} MB (peak ${rss.peakRssMb.toFixed(0)} MB) |`,
  ].join('\n');
}
