// npm run build && node dist/bench/dashboard-scale.js [--commands 100000] [--runs 7] [--database-url URL]
// Seeds commands (three reports each, spread over a week, a tenth of them still open) and times
// what the operations page loads first: the overview API, the first list page, and, with
// Chromium at /usr/bin/chromium, the page itself until its counts are on screen.
// Without --database-url it runs on a throwaway embedded database (PGlite), as `npm start` would.
import { existsSync } from 'node:fs';
import { type AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { createApp, openDatabase } from '../src/app.factory.js';
import { loadConfig } from '../src/config/config.js';

const CHROMIUM = '/usr/bin/chromium';

const SEED_COMMANDS = `
INSERT INTO commands (command_id, device_id, status, rank, result_detail, created_at, updated_at,
                      deadline, sent_at, completed_at, version)
SELECT 'cmd-' || lpad(g::text, 8, '0'), 'dev-' || (g % 5000),
       CASE WHEN g % 10 = 0 THEN 'SENT' WHEN g % 10 = 1 THEN 'FAILED' ELSE 'SUCCESSFUL' END,
       CASE WHEN g % 10 = 0 THEN 1 ELSE 4 END,
       CASE WHEN g % 10 = 0 THEN NULL ELSE '{"value": 1}'::jsonb END,
       t, t + interval '2 minutes', t + interval '48 hours', t,
       CASE WHEN g % 10 = 0 THEN NULL ELSE t + interval '2 minutes' END,
       CASE WHEN g % 10 = 0 THEN 1 ELSE 2 END
FROM generate_series($1::int, $2::int) AS g,
     LATERAL (SELECT now() - interval '7 days' * (1 - g::float / $3::int) - interval '3 minutes' AS t) AS s`;

// Reports in the order they arrived, so that ids grow with received_at as they do in service.
const SEED_HISTORY = `
INSERT INTO command_history (command_id, status, outcome, source, previous_status, version,
                             result_detail, payload, received_at)
SELECT c.command_id, r.status, r.outcome, 'callback', r.previous_status, r.version, NULL,
       jsonb_build_object('deviceId', c.device_id, 'commandId', c.command_id,
                          'result', jsonb_build_object('resultCode', r.status)),
       c.created_at + r.after
FROM commands c
CROSS JOIN LATERAL (VALUES
  ('SENT', 'applied', NULL, 1, interval '0'),
  (CASE WHEN c.rank = 1 THEN 'SENT' ELSE c.status END,
   CASE WHEN c.rank = 1 THEN 'duplicate' ELSE 'applied' END,
   CASE WHEN c.rank = 1 THEN NULL ELSE 'SENT' END, c.version, interval '2 minutes'),
  ('SENT', CASE WHEN c.rank = 1 THEN 'duplicate' ELSE 'stale' END, NULL, c.version, interval '3 minutes')
) AS r(status, outcome, previous_status, version, after)
WHERE c.command_id BETWEEN 'cmd-' || lpad($1::text, 8, '0') AND 'cmd-' || lpad($2::text, 8, '0')
ORDER BY c.created_at + r.after`;

// Each statement stays well under the service's statement timeout.
const SEED_BATCH = 5000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function timed(url: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url);
  await response.arrayBuffer();
  if (!response.ok) {
    throw new Error(`${url}: ${response.status}`);
  }
  return performance.now() - started;
}

async function firstViewMs(base: string): Promise<number | undefined> {
  if (!existsSync(CHROMIUM)) {
    return undefined;
  }
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage();
    const started = performance.now();
    await page.goto(`${base}/dashboard`);
    await page.locator('#status-counts').waitFor({ timeout: 30_000 });
    await page.locator('#reports-chart').waitFor({ timeout: 30_000 });
    return performance.now() - started;
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      commands: { type: 'string', default: '100000' },
      runs: { type: 'string', default: '7' },
      'database-url': { type: 'string' },
    },
  });
  const commands = Number(values.commands);
  const runs = Number(values.runs);
  const config = loadConfig({
    LOG_LEVEL: 'warn',
    PGLITE_DATA_DIR: 'memory://',
    ...(values['database-url'] === undefined ? {} : { DATABASE_URL: values['database-url'] }),
  });
  const database = await openDatabase(config);
  const app = await createApp(config, database);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.getHttpServer().address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  try {
    const sql = app.get(DataSource);
    const seeding = performance.now();
    for (let first = 1; first <= commands; first += SEED_BATCH) {
      const last = Math.min(commands, first + SEED_BATCH - 1);
      await sql.query(SEED_COMMANDS, [first, last, commands]);
      await sql.query(SEED_HISTORY, [first, last]);
    }
    await sql.query('ANALYZE commands');
    await sql.query('ANALYZE command_history');
    const [{ history }] = await sql.query<{ history: number }[]>(
      'SELECT count(*)::int AS history FROM command_history',
    );
    console.log(
      `${database.description}: ${commands} commands, ${history} reports, seeded in ${((performance.now() - seeding) / 1000).toFixed(1)} s`,
    );

    const open = 'status=PENDING,SENT,DELIVERED';
    const silentSince = encodeURIComponent(new Date(Date.now() - 10 * 60_000).toISOString());
    const urls = {
      'GET /dashboard/api/overview': `${base}/dashboard/api/overview`,
      'GET /commands?limit=25': `${base}/commands?limit=25`,
      'stuck: GET /commands?order=silent': `${base}/commands?${open}&updatedBefore=${silentSince}&order=silent`,
      'stuck: GET /analytics/counts?groupBy=deviceId': `${base}/analytics/counts?${open}&updatedBefore=${silentSince}&groupBy=deviceId`,
      'GET /dashboard (HTML)': `${base}/dashboard`,
    };
    for (const [name, url] of Object.entries(urls)) {
      const first = await timed(url);
      const rest: number[] = [];
      for (let i = 1; i < runs; i += 1) {
        rest.push(await timed(url));
      }
      console.log(
        `${name}: first ${first.toFixed(0)} ms, median of the next ${rest.length} ${median(rest).toFixed(0)} ms`,
      );
    }
    const view = await firstViewMs(base);
    console.log(
      view === undefined
        ? `first view in Chromium: not measured (no ${CHROMIUM})`
        : `first view in Chromium (navigation until counts and chart are shown): ${view.toFixed(0)} ms`,
    );
  } finally {
    await app.close();
    await database.embedded?.stop();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
