import { COMMAND_STATUSES } from '../command-status.js';
import { prefixEnd } from './filters.js';
import { listStatement } from './read.js';

describe('listStatement', () => {
  it('names each shape and common page size once, with the size in the text', () => {
    const first = listStatement({ order: 'newest', limit: 50 });
    expect(first.name).toBe('list_50');
    expect(first.values).toEqual([]);
    expect(first.text).toContain('LIMIT 51');
    expect(first.text).toContain('n <= 50');
    expect(listStatement({ order: 'newest', limit: 50 }).text).toBe(first.text);

    const after = { at: new Date('2026-01-01T00:00:00Z'), commandId: 'c' };
    const filtered = listStatement({
      order: 'newest',
      deviceId: 'd',
      statuses: ['SENT'],
      after,
      limit: 500,
    });
    expect(filtered.name).toBe('list_device_status_after_500');
    expect(filtered.values).toEqual(['d', ['SENT'], after.at, 'c']);
    expect(filtered.text).toContain('LIMIT 501');

    const silent = listStatement({ order: 'silent', deviceIdPrefix: 'ab', after, limit: 50 });
    expect(silent.name).toBe('list_prefix_after_silent_50');
    expect(silent.values).toEqual(['ab', 'ac', after.at, 'c', [...COMMAND_STATUSES]]);
    expect(silent.text).toContain('ORDER BY c.updated_at, c.command_id');

    const stuck = listStatement({
      order: 'silent',
      statuses: ['SENT', 'PENDING', 'SENT'],
      updatedBefore: after.at,
      limit: 50,
    });
    expect(stuck.name).toBe('list_updated_silent_status_50');
    expect(stuck.values).toEqual([after.at, ['SENT', 'PENDING']]);
    expect(stuck.text).toContain('CROSS JOIN LATERAL');
  });

  it('sends other page sizes unnamed, so a connection keeps a bounded number of statements', () => {
    const odd = listStatement({ order: 'newest', deviceId: 'd', limit: 37 });
    expect(odd.name).toBeUndefined();
    expect(odd.text).toContain('LIMIT 38');
    expect(odd.values).toEqual(['d']);
  });
});

describe('prefixEnd', () => {
  it.each([
    ['ab', 'ac'],
    ['a\u{10FFFF}', 'b'],
    ['a\uD7FF', 'a\uE000'],
    ['\u{10FFFF}\u{10FFFF}', undefined],
    ['dev-9', 'dev-:'],
  ])('bounds the strings starting with %j below %j', (prefix, end) => {
    expect(prefixEnd(prefix)).toBe(end);
  });
});
