import { keysetOf } from './commands.reader.js';

function apiJson(commandId: string, paras: unknown, createdAt: string): string {
  return JSON.stringify({
    commandId,
    deviceId: 'd',
    status: 'SENT',
    resultDetail: null,
    serviceId: null,
    method: null,
    paras,
    createdAt,
    updatedAt: '2026-01-02T00:00:00.000Z',
    deadline: '2026-01-03T00:00:00.000Z',
    sentAt: null,
    deliveredAt: null,
    completedAt: null,
    version: 1,
  });
}

describe('keysetOf', () => {
  it.each([
    ['a plain id', 'c-1', null],
    ['an id with quotes and the next key in it', 'a","deviceId":"x\\"', null],
    ['an id in Unicode', '指令 😀', null],
    ['paras with a createdAt of their own', 'c-2', { createdAt: '1999-01-01T00:00:00.000Z' }],
    ['paras with the key sequence in a string', 'c-3', { x: ',"createdAt":"1999' }],
    ['paras with an updatedAt of their own', 'c-4', { updatedAt: '1999-01-01T00:00:00.000Z' }],
  ])("reads the keyset of %s from a command's JSON", (_name, commandId, paras) => {
    const createdAt = '2026-11-26T05:00:00.123Z';
    const json = apiJson(commandId, paras, createdAt);
    expect(keysetOf(json, 'newest')).toEqual({ at: createdAt, commandId });
    expect(keysetOf(json, 'silent')).toEqual({ at: '2026-01-02T00:00:00.000Z', commandId });
  });
});
