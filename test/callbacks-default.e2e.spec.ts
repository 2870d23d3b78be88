import { callbackBody } from './support/factories.js';
import { type TestApp, startTestApp } from './support/test-app.js';

// Some platform versions send DEFAULT for PENDING; a 400 would lose the status for good, since the
// platform does not retry it.
describe('POST /callbacks/command-status with resultCode DEFAULT', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  const push = (payload: object) =>
    t.app.inject({ method: 'POST', url: '/callbacks/command-status', payload });
  const getCommand = async (commandId: string) =>
    (await t.app.inject({ method: 'GET', url: `/commands/${commandId}` })).json();

  it('stores and applies DEFAULT as PENDING, keeping DEFAULT in the payload', async () => {
    const body = callbackBody({ result: { resultCode: 'DEFAULT', resultDetail: null } });
    const response = await push(body);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      commandId: body.commandId,
      status: 'PENDING',
      outcome: 'applied',
    });
    const command = await getCommand(body.commandId);
    expect(command.status).toBe('PENDING');
    expect(command.history).toEqual([
      expect.objectContaining({ status: 'PENDING', outcome: 'applied', payload: body }),
    ]);
  });

  it.each([
    ['PENDING', 'duplicate'],
    ['SENT', 'stale'],
  ])('decides DEFAULT after %s as PENDING would be: %s', async (first, outcome) => {
    const body = callbackBody({ result: { resultCode: first } });
    await push(body);
    const response = await push({ ...body, result: { resultCode: 'DEFAULT' } });
    expect(response.json()).toMatchObject({ status: first, outcome });
  });

  it.each(['default', 'Default', 'DEFAULT '])('still refuses %p with 400', async (code) => {
    const response = await push(callbackBody({ result: { resultCode: code } }));
    expect(response.statusCode).toBe(400);
  });

  it('counts DEFAULT under status PENDING in the metrics', async () => {
    const scrape = async () =>
      Number(
        /command_callbacks_total\{status="PENDING",outcome="applied"\} (\d+)/.exec(
          (await t.app.inject({ method: 'GET', url: '/metrics' })).body,
        )?.[1],
      );
    const before = await scrape();
    await push(callbackBody({ result: { resultCode: 'DEFAULT' } }));
    expect(await scrape()).toBe(before + 1);
  });
});
