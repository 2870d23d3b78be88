import fc from 'fast-check';
import { randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import {
  COMMAND_STATUSES,
  type CommandStatus,
  type ReportOutcome,
  decide,
  rankOf,
} from '../../src/commands/command-status.js';
import { MIGRATIONS } from '../../src/database/data-source.js';
import { newCommandId } from '../support/factories.js';
import { type TestApp, startTestApp } from '../support/test-app.js';
import {
  type TestDatabase,
  adminQuery,
  createTestDatabase,
  serverUrl,
  withDatabase,
} from '../support/test-database.js';

// Random interleavings of reports for many commands, sent concurrently, end
// where the rule says. The arrival order that counts is the commit order, which the history ids
// record: replaying the history in id order through decide() must give every stored outcome,
// the final status and the version, and each acknowledged report has exactly one history row.

const server = serverUrl();
const describeOnServer = server !== undefined ? describe : describe.skip;

interface Report {
  reportId: string;
  commandId: string;
  deviceId: string;
  status: CommandStatus;
}

interface HistoryRow {
  id: string;
  command_id: string;
  status: CommandStatus;
  outcome: ReportOutcome;
  version: number;
  previous_status: CommandStatus | null;
  report_id: string;
}

interface CommandRow {
  command_id: string;
  status: CommandStatus;
  version: number;
}

/** Per command, the statuses reported (duplicates and out-of-order ones included). */
const scenario = fc.array(
  fc.array(fc.constantFrom(...COMMAND_STATUSES), { minLength: 1, maxLength: 8 }),
  { minLength: 1, maxLength: 10 },
);

/** Some reports are pushed by the platform and some are registrations: both follow the rule. */
function toRequests(statusesPerCommand: CommandStatus[][], order: number[]): Report[] {
  const reports = statusesPerCommand.flatMap((statuses) => {
    const commandId = newCommandId();
    const deviceId = `device-${commandId.slice(0, 6)}`;
    return statuses.map((status) => ({ reportId: randomUUID(), commandId, deviceId, status }));
  });
  // A random interleaving of all of them (order is a random key per report).
  return reports
    .map((report, i) => ({ report, key: order[i % order.length] + i / reports.length }))
    .sort((a, b) => a.key - b.key)
    .map(({ report }) => report);
}

async function send(app: TestApp['app'], report: Report, asRegistration: boolean) {
  const response = asRegistration
    ? await app.inject({
        method: 'POST',
        url: '/commands',
        payload: {
          commandId: report.commandId,
          deviceId: report.deviceId,
          status: report.status,
          reportId: report.reportId,
        },
      })
    : await app.inject({
        method: 'POST',
        url: '/callbacks/command-status',
        payload: {
          deviceId: report.deviceId,
          commandId: report.commandId,
          result: { resultCode: report.status, resultDetail: { reportId: report.reportId } },
          reportId: report.reportId,
        },
      });
  return { report, statusCode: response.statusCode, body: response.json<{ outcome?: string }>() };
}

/** Checks the database against the rule; returns the problems found (empty: all good). */
async function checkAgainstRule(
  db: DataSource,
  reports: Report[],
  answers: Awaited<ReturnType<typeof send>>[],
): Promise<string[]> {
  const problems: string[] = [];
  const commandIds = [...new Set(reports.map((report) => report.commandId))];
  const history = await db.query<HistoryRow[]>(
    `SELECT id::text, command_id, status, outcome, version, previous_status,
            payload->>'reportId' AS report_id
     FROM command_history h WHERE command_id = ANY($1::text[]) ORDER BY h.id`,
    [commandIds],
  );
  const commands = await db.query<CommandRow[]>(
    `SELECT command_id, status, version FROM commands WHERE command_id = ANY($1::text[])`,
    [commandIds],
  );

  // One history row per acknowledged report, none for anything else.
  const acknowledged = answers.filter((answer) => answer.statusCode < 300);
  if (acknowledged.length !== reports.length) {
    problems.push(`${reports.length - acknowledged.length} reports were not acknowledged`);
  }
  const rowsByReport = new Map<string, HistoryRow[]>();
  for (const row of history) {
    rowsByReport.set(row.report_id, [...(rowsByReport.get(row.report_id) ?? []), row]);
  }
  for (const answer of acknowledged) {
    const rows = rowsByReport.get(answer.report.reportId) ?? [];
    if (rows.length !== 1) {
      problems.push(`report ${answer.report.reportId} has ${rows.length} history rows`);
    }
  }
  if (history.length !== acknowledged.length) {
    problems.push(`${history.length} history rows for ${acknowledged.length} acknowledged reports`);
  }

  // Replay in commit (id) order through the pure rule.
  const replayed = new Map<string, { status: CommandStatus; version: number }>();
  for (const row of history) {
    const current = replayed.get(row.command_id);
    const outcome = decide(current?.status, row.status);
    if (outcome !== row.outcome) {
      problems.push(`event ${row.id}: stored ${row.outcome}, the rule says ${outcome}`);
    }
    if ((current?.status ?? null) !== row.previous_status) {
      problems.push(`event ${row.id}: previous ${row.previous_status}, replay ${current?.status}`);
    }
    const next =
      outcome === 'applied'
        ? { status: row.status, version: (current?.version ?? 0) + 1 }
        : (current ?? { status: row.status, version: 0 });
    if (next.version !== row.version) {
      problems.push(`event ${row.id}: version ${row.version}, replay ${next.version}`);
    }
    replayed.set(row.command_id, next);
  }
  for (const command of commands) {
    const expected = replayed.get(command.command_id);
    if (expected?.status !== command.status || expected.version !== command.version) {
      problems.push(
        `${command.command_id}: stored ${command.status} v${command.version}, replay ${expected?.status} v${expected?.version}`,
      );
    }
    // Whatever the order, the final status is the first-committed one of the highest rank.
    const reported = history.filter((row) => row.command_id === command.command_id);
    const top = Math.max(...reported.map((row) => rankOf(row.status)));
    const first = reported.find((row) => rankOf(row.status) === top);
    if (first?.status !== command.status) {
      problems.push(`${command.command_id}: ${command.status}, expected ${first?.status}`);
    }
  }
  if (commands.length !== commandIds.length) {
    problems.push(`${commands.length} commands stored for ${commandIds.length} reported`);
  }

  // Each answer told the outcome that was stored for it.
  for (const answer of acknowledged) {
    const row = rowsByReport.get(answer.report.reportId)?.[0];
    if (
      row !== undefined &&
      answer.body.outcome !== undefined &&
      answer.body.outcome !== row.outcome
    ) {
      problems.push(
        `report ${answer.report.reportId}: answered ${answer.body.outcome}, stored ${row.outcome}`,
      );
    }
  }
  return problems;
}

/** fast-check property: random scenarios, each sent concurrently across the given instances. */
async function checkInterleavings(apps: TestApp[], runs: number): Promise<void> {
  const db = apps[0].app.get(DataSource);
  await fc.assert(
    fc.asyncProperty(
      scenario,
      fc.array(fc.nat(1000), { minLength: 1, maxLength: 80 }),
      fc.array(fc.nat(99), { minLength: 1, maxLength: 80 }),
      async (statusesPerCommand, order, picks) => {
        const reports = toRequests(statusesPerCommand, order);
        const answers = await Promise.all(
          reports.map((report, i) => {
            const pick = picks[i % picks.length];
            // One report in five is a registration; instances are picked at random.
            return send(apps[pick % apps.length].app, report, pick % 5 === 0);
          }),
        );
        const problems = await checkAgainstRule(db, reports, answers);
        expect(problems).toEqual([]);
      },
    ),
    { numRuns: runs },
  );
}

describe('concurrent reports', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('end at the status the rule dictates, with one history row per acknowledged report', async () => {
    await checkInterleavings([t], 25);
  });

  it('race the creation of one command from many reports at once', async () => {
    // The hardest case for the single-statement upsert: every report is the first one.
    const statuses: CommandStatus[] = [
      ...COMMAND_STATUSES,
      ...COMMAND_STATUSES,
      ...COMMAND_STATUSES,
    ];
    const commandId = newCommandId();
    const reports = statuses.map((status) => ({
      reportId: randomUUID(),
      commandId,
      deviceId: 'racing-device',
      status,
    }));
    const answers = await Promise.all(reports.map((report) => send(t.app, report, false)));
    expect(await checkAgainstRule(t.app.get(DataSource), reports, answers)).toEqual([]);
  });
});

describeOnServer('two instances on one database (PostgreSQL only)', () => {
  let database: TestDatabase;
  let first: TestApp;
  let second: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    [first, second] = await Promise.all([startTestApp({}, database), startTestApp({}, database)]);
  });

  afterAll(async () => {
    await first.close();
    await second.close();
    await database.drop();
  });

  it('end at the status the rule dictates, whichever instance takes each report', async () => {
    await checkInterleavings([first, second], 20);
  });
});

describeOnServer('start-up on an empty database (PostgreSQL only)', () => {
  const created: string[] = [];

  afterAll(async () => {
    for (const name of created) {
      await adminQuery(server!, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });

  it('brings up instances started at the same moment, migrating once', async () => {
    for (let round = 0; round < 3; round++) {
      const name = `ct_empty_${randomBytes(6).toString('hex')}`;
      await adminQuery(server!, `CREATE DATABASE ${name}`);
      created.push(name);
      const empty: TestDatabase = {
        url: withDatabase(server!, name),
        poolSize: 5,
        drop: async () => {},
      };
      const apps = await Promise.all([1, 2, 3].map(() => startTestApp({}, empty)));
      try {
        for (const app of apps) {
          const response = await app.app.inject({
            method: 'POST',
            url: '/callbacks/command-status',
            payload: { deviceId: 'd', commandId: newCommandId(), result: { resultCode: 'SENT' } },
          });
          expect(response.statusCode).toBe(200);
        }
        const migrations = await adminQuery<{ name: string }>(
          empty.url,
          'SELECT name FROM migrations ORDER BY id',
        );
        expect(migrations.map((row) => row.name)).toEqual(
          MIGRATIONS.map((migration) => migration.name),
        );
      } finally {
        await Promise.all(apps.map((app) => app.close()));
      }
    }
  });
});
