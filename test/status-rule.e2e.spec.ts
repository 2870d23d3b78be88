import { DataSource } from 'typeorm';
import { COMMAND_STATUSES, rankOf } from '../src/commands/command-status.js';
import { APPLY_REPORTS_SQL, TOO_LATE_SQLSTATE } from '../src/commands/sql/apply.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { callbackBody, newCommandId } from './support/factories.js';
import { OUTCOME_TABLE } from './support/status-rule-table.js';

// The rule is the SQL that applies a report: every (current, reported) pair goes through the real
// statement, on whichever database the suite runs on.
describe('the status rule, as the database applies it', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  const push = (commandId: string, resultCode: string) =>
    t.app.inject({
      method: 'POST',
      url: '/callbacks/command-status',
      payload: callbackBody({ commandId, result: { resultCode, resultDetail: null } }),
    });

  const pairs = COMMAND_STATUSES.flatMap((current) =>
    COMMAND_STATUSES.map((reported, i) => [current, reported, OUTCOME_TABLE[current][i]] as const),
  );

  it.each(pairs)('current %s, reported %s: %s', async (current, reported, outcome) => {
    const commandId = newCommandId();
    expect((await push(commandId, current)).json()).toMatchObject({ outcome: 'applied' });

    const answer = await push(commandId, reported);
    expect(answer.statusCode).toBe(200);
    const applied = outcome === 'applied';
    expect(answer.json()).toEqual({
      commandId,
      status: applied ? reported : current,
      outcome,
    });

    const command = (await t.app.inject({ method: 'GET', url: `/commands/${commandId}` })).json<{
      status: string;
      version: number;
      history: { outcome: string }[];
    }>();
    expect(command.status).toBe(applied ? reported : current);
    expect(command.version).toBe(applied ? 2 : 1);
    expect(command.history.map((entry) => entry.outcome)).toEqual(['applied', outcome]);
    expect(applied).toBe(rankOf(reported) > rankOf(current));
  });

  // The statement's rank literals (a final status is rank 3 or more) agree with command-status.ts.
  it.each(COMMAND_STATUSES)(
    'stamps a new %s command with the times its status and rank say',
    async (status) => {
      const commandId = newCommandId();
      expect((await push(commandId, status)).statusCode).toBe(200);
      const command = (await t.app.inject({ method: 'GET', url: `/commands/${commandId}` })).json<{
        sentAt: string | null;
        deliveredAt: string | null;
        completedAt: string | null;
      }>();
      expect({
        sent: command.sentAt !== null,
        delivered: command.deliveredAt !== null,
        completed: command.completedAt !== null,
      }).toEqual({
        sent: status === 'SENT',
        delivered: status === 'DELIVERED',
        completed: rankOf(status) >= rankOf('TIMEOUT'),
      });
    },
  );

  it('writes nothing when the statement finishes past its time budget', async () => {
    const commandId = newCommandId();
    const reports = [
      {
        command_id: commandId,
        device_id: 'budget-device',
        status: 'SENT',
        rank: 1,
        payload: {},
        source: 'callback',
        details: false,
      },
    ];
    const args = [JSON.stringify(reports), 172800, false, 0];
    await expect(t.app.get(DataSource).query(APPLY_REPORTS_SQL, args)).rejects.toMatchObject({
      driverError: { code: TOO_LATE_SQLSTATE },
    });
    expect((await t.app.inject({ method: 'GET', url: `/commands/${commandId}` })).statusCode).toBe(
      404,
    );
  });
});
