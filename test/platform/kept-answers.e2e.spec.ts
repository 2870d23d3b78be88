import { DispatchRepository } from '../../src/platform/dispatch.repository.js';
import { usePlatformApp } from '../support/platform.js';

// The answer a repeated Idempotency-Key gets is kept after the intent settles, in a write of its
// own: these pin what happens when reconciliation settles the intent in between.
describe('answers kept for a repeated Idempotency-Key', () => {
  const platform = usePlatformApp('iotda');
  const intents = () => platform.app.get(DispatchRepository);
  const recorded = async (key: string) => {
    const result = await intents().record({
      idempotencyKey: key,
      requestHash: 'hash',
      deviceId: `device-${key}`,
      serviceId: 'WaterMeter',
      method: 'SET_READ_PERIOD',
      paras: { value: 5 },
      timeoutSeconds: null,
    });
    if (!result.created) {
      throw new Error(`the key ${key} was taken`);
    }
    return result.id;
  };

  it("keeps reconciliation's 201 when the request's 504 comes to be kept after it", async () => {
    const id = await recorded('kept-late');
    expect(await intents().settle(id, 'lost', null)).toBe(true);
    expect(await intents().settle(id, 'created', 'command-kept-late')).toBe(true);
    await intents().keepAnswer(id, 'created', { status: 201, body: '{"found":true}' });
    await intents().keepAnswer(id, 'lost', { status: 504, body: '{"lost":true}' });
    expect(await intents().find(id)).toMatchObject({
      state: 'created',
      commandId: 'command-kept-late',
      answerStatus: 201,
      answerBody: '{"found":true}',
    });
  });

  it('drops the 504 kept for a lost dispatch once it settles, until its own answer is kept', async () => {
    const id = await recorded('kept-dropped');
    expect(await intents().settle(id, 'lost', null)).toBe(true);
    await intents().keepAnswer(id, 'lost', { status: 504, body: '{"lost":true}' });
    expect(await intents().find(id)).toMatchObject({ answerStatus: 504 });
    expect(await intents().settle(id, 'refused', null)).toBe(true);
    expect(await intents().find(id)).toMatchObject({
      state: 'refused',
      answerStatus: null,
      answerBody: null,
    });
  });
});
