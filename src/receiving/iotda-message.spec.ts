import { parseIotdaMessage, parseIotdaTime } from './iotda-message.js';

describe('parseIotdaTime', () => {
  it.each([
    ['20261201T101500Z', '2026-12-01T10:15:00.000Z'],
    ['20151212T121212Z', '2015-12-12T12:12:12.000Z'],
    ['20240229T235959Z', '2024-02-29T23:59:59.000Z'],
    ['2019-03-03T08:10:11.000Z', '2019-03-03T08:10:11.000Z'],
    ['2019-03-03T08:10:11.5Z', '2019-03-03T08:10:11.500Z'],
    ['2019-03-03T08:10:11Z', '2019-03-03T08:10:11.000Z'],
  ])('reads %s as %s', (text, iso) => {
    expect(parseIotdaTime(text)?.toISOString()).toBe(iso);
  });

  it.each([
    '20250229T000000Z',
    '20261301T000000Z',
    '20261201T240000Z',
    '20261201T106000Z',
    '20261201T101500',
    '20261201 101500Z',
    '2026121T101500Z',
    '20261201T101500+0800',
    '',
    12,
    null,
  ])('refuses %p', (value) => {
    expect(parseIotdaTime(value)).toBeUndefined();
  });
});

describe('parseIotdaMessage', () => {
  const report = {
    resource: 'device.command.status',
    event: 'update',
    notify_data: { header: { device_id: 'd' }, body: { command_id: 'c', status: 'SENT' } },
  };

  it('prefers body inside notify_data over one beside it', () => {
    const message = { ...report, body: { command_id: 'other', status: 'FAILED' } };
    expect(parseIotdaMessage(message)).toEqual({
      kind: 'report',
      report: { deviceId: 'd', commandId: 'c', status: 'SENT', resultDetail: null },
    });
  });

  it.each([null, 'text', 42, [report]])('calls %p invalid, not an exception', (message) => {
    expect(parseIotdaMessage(message).kind).toBe('invalid');
  });

  it('ignores another resource without looking further', () => {
    expect(parseIotdaMessage({ resource: 'device.status', event: 'update' })).toEqual({
      kind: 'ignored',
      resource: 'device.status',
      event: 'update',
    });
  });
});
