// The campaign phase of `npm run bench` (--only campaign): one campaign of --campaign-devices
// (100,000) devices through the IoTDA emulator on PostgreSQL, at 6,000 devices a minute and then
// at the fastest rate DISPATCH_RATE allows (its maximum, 1,000 calls a second: 60,000 a minute),
// each on a fresh database and service. The emulator's devices answer each command SUCCESSFUL
// 200 ms after it is created, pushed to the service's POST /callbacks/iotda, so that the campaign
// completes. Reported per run: the release pace (from dispatches.released_at) and the send pace
// (from the commands' created_at) against the asked rate, the time to completion, the service's
// peak resident set, its and PostgreSQL's CPU per device, the database's growth per device and
// the final counts.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CREATE_SQL } from '../src/sending/campaigns.sql.js';
import {
  MAX_DISPATCH_RATE,
  type PlatformService,
  type SendingBenchDeps,
  memoryOf,
  withPlatformService,
} from './dispatch.js';

const TABLES = ['dispatches', 'commands', 'command_history', 'campaigns', 'dispatch_intents'];
// The pace's spread is read over windows of this many seconds.
const WINDOW_SECONDS = 10;

interface Pace {
  /** Over the whole run, from the first to the last, a minute. */
  perMinute: number;
  /** The slowest and fastest full window, scaled to a minute. */
  minPerMinute: number;
  maxPerMinute: number;
}

export interface CampaignRun {
  devices: number;
  ratePerMinute: number;
  dispatchRate: number;
  /** POST /campaigns: seconds to answer. */
  createSeconds: number;
  /** How the campaign came to be: its POST, or the service's own statement after a 503. */
  createdBy: string;
  released: Pace;
  sent: Pace;
  /** From the campaign's creation to its completion (database clock), in s. */
  completionSeconds: number;
  /** From the campaign's creation to its last command on the platform, in s. */
  lastSentSeconds: number;
  /** The emulator's status pushes: delivered with a 200, and not (then reconciliation finds them). */
  pushes: { sent: number; failed: number };
  state: string;
  dispatches: Record<string, number>;
  commands: Record<string, number>;
  peakRssMb: number;
  /** The highest VmRSS sampled each second during the run. */
  maxRssMb: number;
  serverCpuMs: number;
  postgresCpuMs: number;
  /** Bytes per device the tables grew by, table by table, as the run left them. */
  growth: Record<string, number>;
  /** The same after VACUUM FULL: the live rows and indexes only, without dead row versions. */
  liveGrowth: Record<string, number>;
}

interface CampaignJson {
  campaignId: string;
  state: string;
  dispatches: Record<string, number>;
  commands: Record<string, number>;
}

async function sizes(service: PlatformService): Promise<Record<string, number>> {
  const rows = await service.query<{ name: string; bytes: string }>(
    `SELECT relname AS name, pg_total_relation_size(oid)::text AS bytes
     FROM pg_class WHERE relname = ANY($1::text[]) AND relkind = 'r'`,
    [TABLES],
  );
  return Object.fromEntries(rows.map((row) => [row.name, Number(row.bytes)]));
}

/** The pace of the timestamps in `column` (an expression over the campaign's rows). */
async function paceOf(service: PlatformService, from: string, column: string): Promise<Pace> {
  const [overall] = await service.query<{ n: number; seconds: number; first: Date }>(
    `SELECT count(*)::int AS n, extract(epoch FROM max(${column}) - min(${column}))::float8 AS seconds,
            min(${column}) AS first
     ${from} AND ${column} IS NOT NULL`,
  );
  const windows = await service.query<{ window: number; n: number }>(
    `SELECT floor(extract(epoch FROM ${column} - $1::timestamptz) / ${WINDOW_SECONDS})::int AS window,
            count(*)::int AS n
     ${from} AND ${column} IS NOT NULL GROUP BY 1 ORDER BY 1`,
    [overall.first],
  );
  // Full windows only: the last one is cut short by the end of the run.
  const full = windows.filter((w) => (w.window + 1) * WINDOW_SECONDS <= overall.seconds);
  const scaled = full.map((w) => (w.n * 60) / WINDOW_SECONDS);
  return {
    perMinute: overall.seconds > 0 ? ((overall.n - 1) * 60) / overall.seconds : NaN,
    minPerMinute: scaled.length > 0 ? Math.min(...scaled) : NaN,
    maxPerMinute: scaled.length > 0 ? Math.max(...scaled) : NaN,
  };
}

async function run(
  deps: SendingBenchDeps,
  devices: number,
  ratePerMinute: number,
): Promise<CampaignRun> {
  return withPlatformService(deps, 'cmp', {}, async (service) => {
    const { server, emulator } = service;
    // Each device answers its command a moment after the platform has it.
    emulator.onCreated = (command) => {
      setTimeout(() => {
        void emulator.advance(command.commandId, 'SUCCESSFUL', { code: 0 }).catch(() => undefined);
      }, 200).unref();
    };
    const before = await sizes(service);
    const pid = server.process.pid ?? 0;
    let maxRssMb = 0;
    const sampler = setInterval(() => {
      maxRssMb = Math.max(maxRssMb, memoryOf(pid).rssMb);
    }, 1000);
    try {
      server.cpu.start();
      const created = Date.now();
      const name = `bench ${devices} at ${ratePerMinute}/min`;
      const command = { serviceId: 'WaterMeter', method: 'SET_READ_PERIOD', paras: { value: 5 } };
      const deviceIds = Array.from(
        { length: devices },
        (_, i) => `bench-device-${String(i).padStart(6, '0')}`,
      );
      const response = await fetch(`${server.url}/campaigns`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name, command, devices: deviceIds, ratePerMinute }),
      });
      const createSeconds = (Date.now() - created) / 1000;
      let campaignId: string;
      let createdBy = 'POST /campaigns';
      if (response.status === 201) {
        campaignId = ((await response.json()) as CampaignJson).campaignId;
      } else if (response.status === 503) {
        // The route's one statement inserts every dispatch and may outlast the service's
        // statement timeout; the same statement from here, without one, so that the rest of the
        // campaign's life is still measured. The table says which way it was created.
        createdBy = `SQL (POST 503 after ${createSeconds.toFixed(1)} s)`;
        deps.log(
          `campaign: POST /campaigns answered 503; creating it with the service's statement`,
        );
        campaignId = randomUUID();
        await service.query(CREATE_SQL, [
          campaignId,
          null,
          'bench',
          name,
          JSON.stringify({ ...command, mode: 'async', timeoutSeconds: null }),
          ratePerMinute,
          null,
          null,
          null,
          null,
          devices,
          deviceIds,
          new Date(),
          new Date(Date.now() + 365 * 24 * 3600_000),
        ]);
      } else {
        throw new Error(`POST /campaigns answered ${response.status}: ${await response.text()}`);
      }
      deps.log(
        `campaign ${devices} at ${ratePerMinute}/min: created in ${((Date.now() - created) / 1000).toFixed(1)} s (${createdBy})`,
      );
      // A safety stop only: the paced time, sending at a busy machine's 50 a second, and 20
      // minutes for reconciliation to find commands whose status push failed (it looks at those
      // unchanged for RECONCILE_AFTER_SECONDS, 600 by default).
      const limitMs = ((devices / ratePerMinute) * 60 + devices / 50 + 1200) * 1000;
      let campaign: CampaignJson;
      let reported = 0;
      for (;;) {
        campaign = (await (
          await fetch(`${server.url}/campaigns/${campaignId}`)
        ).json()) as CampaignJson;
        if (['completed', 'aborted', 'canceled'].includes(campaign.state)) {
          break;
        }
        if (Date.now() - created > limitMs) {
          deps.log(`campaign: not done after ${limitMs / 1000} s; stopping the run`);
          break;
        }
        if (Date.now() - reported > 60_000) {
          reported = Date.now();
          deps.log(
            `campaign: ${campaign.state}, dispatches ${JSON.stringify(campaign.dispatches)}, ` +
              `RSS ${memoryOf(pid).rssMb.toFixed(0)} MB`,
          );
        }
        // Each look counts the whole campaign: a dashboard's pace, not more.
        await sleep(5000);
      }
      const cpu = server.cpu.per({
        rps: 0,
        p50: 0,
        p99: 0,
        non2xx: 0,
        errors: 0,
        requests: devices,
        loadCpuMs: 0,
      });
      const after = await sizes(service);
      // Dead row versions count above as the run left them (autovacuum may be off, as on the
      // bench machine); compacted, the tables show what each device keeps.
      await service.query(`VACUUM FULL ${TABLES.join(', ')}`);
      const live = await sizes(service);
      const ofCampaign = `FROM dispatches d WHERE d.campaign_id = '${campaignId.replace(/'/g, "''")}'`;
      const released = await paceOf(service, ofCampaign, 'd.released_at');
      const sent = await paceOf(
        service,
        `FROM dispatches d JOIN commands c ON c.command_id = d.command_id
         WHERE d.campaign_id = '${campaignId.replace(/'/g, "''")}'`,
        'c.created_at',
      );
      const [{ seconds, lastSent }] = await service.query<{ seconds: number; lastSent: number }>(
        `SELECT extract(epoch FROM k.updated_at - k.created_at)::float8 AS seconds,
                extract(epoch FROM (SELECT max(c.created_at) FROM dispatches d
                  JOIN commands c ON c.command_id = d.command_id
                  WHERE d.campaign_id = k.campaign_id) - k.created_at)::float8 AS "lastSent"
         FROM campaigns k WHERE k.campaign_id = $1`,
        [campaignId],
      );
      deps.log(
        `campaign ${devices} at ${ratePerMinute}/min: ${campaign.state} after ${seconds.toFixed(0)} s`,
      );
      return {
        devices,
        ratePerMinute,
        dispatchRate: MAX_DISPATCH_RATE,
        createSeconds,
        createdBy,
        released,
        sent,
        completionSeconds: ['completed', 'aborted', 'canceled'].includes(campaign.state)
          ? seconds
          : NaN,
        lastSentSeconds: lastSent,
        pushes: { sent: emulator.pushes.sent, failed: emulator.pushes.failed },
        state: campaign.state,
        dispatches: campaign.dispatches,
        commands: campaign.commands,
        peakRssMb: server.peakRssMb(),
        maxRssMb,
        serverCpuMs: cpu.serverCpuMs,
        postgresCpuMs: cpu.postgresCpuMs,
        growth: perDevice(before, after, devices),
        liveGrowth: perDevice(before, live, devices),
      };
    } finally {
      clearInterval(sampler);
    }
  });
}

function perDevice(
  before: Record<string, number>,
  after: Record<string, number>,
  devices: number,
): Record<string, number> {
  return Object.fromEntries(
    TABLES.map((table) => [table, ((after[table] ?? 0) - (before[table] ?? 0)) / devices]),
  );
}

/** The campaign at each rate in turn, each on a fresh database and service. */
export async function benchCampaignScale(
  deps: SendingBenchDeps,
  options: { devices: number; rates: number[] },
): Promise<CampaignRun[]> {
  const runs: CampaignRun[] = [];
  for (const rate of options.rates) {
    runs.push(await run(deps, options.devices, rate));
  }
  return runs;
}

/** The fastest campaign rate DISPATCH_RATE's maximum allows (and the campaign's own maximum). */
export const FASTEST_RATE_PER_MINUTE = Math.min(60_000, MAX_DISPATCH_RATE * 60);

export function campaignTable(runs: CampaignRun[]): string {
  const n = (value: number, digits = 0) => (Number.isNaN(value) ? '' : value.toFixed(digits));
  const nonzero = (counts: Record<string, number>) =>
    Object.entries(counts)
      .filter(([, count]) => count > 0)
      .map(([key, count]) => `${key} ${count}`)
      .join(', ');
  const lines = [
    '| devices | asked /min | released /min (slowest, fastest 10 s) | sent /min (slowest, fastest 10 s) | ' +
      'created by | created s | last sent s | completed s | state | peak RSS MB (VmHWM) | highest VmRSS MB | ' +
      'CPU ms/device: server | PostgreSQL |',
    '|---:|---:|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|',
    ...runs.map(
      (r) =>
        `| ${r.devices} | ${r.ratePerMinute} | ${n(r.released.perMinute)} (${n(r.released.minPerMinute)}, ` +
        `${n(r.released.maxPerMinute)}) | ${n(r.sent.perMinute)} (${n(r.sent.minPerMinute)}, ` +
        `${n(r.sent.maxPerMinute)}) | ${r.createdBy} | ${n(r.createSeconds, 1)} | ${n(r.lastSentSeconds)} | ${n(r.completionSeconds)} | ${r.state} | ` +
        `${n(r.peakRssMb)} | ${n(r.maxRssMb)} | ${n(r.serverCpuMs, 3)} | ${n(r.postgresCpuMs, 3)} |`,
    ),
    '',
    `| asked /min | bytes per device | ${TABLES.join(' | ')} | total |`,
    `|---:|---|${TABLES.map(() => '---:').join('|')}|---:|`,
    ...runs.flatMap((r) =>
      (
        [
          ['as left', r.growth],
          ['after VACUUM FULL', r.liveGrowth],
        ] as const
      ).map(
        ([label, growth]) =>
          `| ${r.ratePerMinute} | ${label} | ${TABLES.map((t) => n(growth[t])).join(' | ')} | ` +
          `${n(Object.values(growth).reduce((a, b) => a + b, 0))} |`,
      ),
    ),
    '',
    ...runs.map(
      (r) =>
        `${r.ratePerMinute}/min (DISPATCH_RATE ${r.dispatchRate}): dispatches ${nonzero(r.dispatches)}; ` +
        `commands ${nonzero(r.commands)}; status pushes delivered ${r.pushes.sent}, failed ` +
        `${r.pushes.failed}`,
    ),
  ];
  return lines.join('\n');
}
