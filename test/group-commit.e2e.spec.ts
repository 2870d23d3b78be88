import fc from 'fast-check';
import { COMMAND_STATUSES, type CommandStatus, decide } from '../src/commands/command-status.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { callbackBody, newCommandId } from './support/factories.js';

// Group commit applies concurrent reports together in one transaction. Whatever gets batched with
// what, every answer must be what the rule made of the history, in the order it was recorded.
describe('group commit (GROUP_COMMIT=true) under concurrency', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ groupCommit: true });
  });

  afterAll(async () => {
    await t.close();
  });

  const push = (commandId: string, deviceId: string, resultCode: CommandStatus) =>
    t.app.inject({
      method: 'POST',
      url: '/callbacks/command-status',
      payload: callbackBody({ commandId, deviceId, result: { resultCode, resultDetail: null } }),
    });

  async function expectConsistent(
    commandId: string,
    answers: { status: CommandStatus; outcome: string }[],
  ): Promise<void> {
    const command = (await t.app.inject({ method: 'GET', url: `/commands/${commandId}` })).json();
    const history = command.history as { status: CommandStatus; outcome: string }[];
    let replayed: CommandStatus | undefined;
    let applied = 0;
    for (const entry of history) {
      const outcome = decide(replayed, entry.status);
      expect(entry.outcome).toBe(outcome);
      if (outcome === 'applied') {
        replayed = entry.status;
        applied++;
      }
    }
    expect(command.status).toBe(replayed);
    expect(command.version).toBe(applied);
    const key = (entry: { status: string; outcome: string }) => `${entry.status}:${entry.outcome}`;
    expect(history.map(key).sort()).toEqual(answers.map(key).sort());
  }

  it('keeps one command consistent when it is reported many times at once', async () => {
    const commandId = newCommandId();
    const statuses: CommandStatus[] = Array.from(
      { length: 60 },
      (_, i) => COMMAND_STATUSES[(i * 7) % COMMAND_STATUSES.length],
    );
    const responses = await Promise.all(statuses.map((status) => push(commandId, 'dev-1', status)));
    expect(responses.map((response) => response.statusCode)).toEqual(statuses.map(() => 200));
    const answers = responses.map((response, i) => ({
      status: statuses[i],
      outcome: response.json().outcome as string,
    }));
    expect(answers.filter((answer) => answer.outcome === 'applied').length).toBeGreaterThan(0);
    await expectConsistent(commandId, answers);
  });

  it('keeps every command consistent whatever reports arrive together (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom(...COMMAND_STATUSES)), {
          minLength: 1,
          maxLength: 40,
        }),
        async (reports) => {
          const ids = [0, 1, 2, 3].map(() => newCommandId());
          const responses = await Promise.all(
            reports.map(([command, status]) => push(ids[command], `dev-${command}`, status)),
          );
          expect(responses.every((response) => response.statusCode === 200)).toBe(true);
          for (let command = 0; command < ids.length; command++) {
            const answers = reports
              .map(([c, status], i) => ({ c, status, outcome: responses[i].json().outcome }))
              .filter((answer) => answer.c === command);
            if (answers.length > 0) {
              await expectConsistent(ids[command], answers);
            }
          }
        },
      ),
      { numRuns: 15 },
    );
  });

  it('refuses a report for a command known under another device, without failing its batch', async () => {
    const commandId = newCommandId();
    const others = Array.from({ length: 10 }, () => newCommandId());
    await push(commandId, 'dev-a', 'SENT');
    const [mismatch, ...rest] = await Promise.all([
      push(commandId, 'dev-b', 'DELIVERED'),
      ...others.map((id) => push(id, 'dev-c', 'SENT')),
    ]);
    expect(mismatch.statusCode).toBe(409);
    expect(rest.map((response) => response.json().outcome)).toEqual(others.map(() => 'applied'));
    const command = (await t.app.inject({ method: 'GET', url: `/commands/${commandId}` })).json();
    expect(command).toMatchObject({ status: 'SENT', version: 1 });
  });
});
