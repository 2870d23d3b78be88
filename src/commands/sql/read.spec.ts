import { listStatement } from './read.js';

describe('listStatement', () => {
  it('names each shape and common page size once, with the size in the text', () => {
    const first = listStatement({ limit: 50 });
    expect(first.name).toBe('list_50');
    expect(first.values).toEqual([]);
    expect(first.text).toContain('LIMIT 51');
    expect(first.text).toContain('n <= 50');
    expect(listStatement({ limit: 50 }).text).toBe(first.text);

    const after = { createdAt: new Date('2026-01-01T00:00:00Z'), commandId: 'c' };
    const filtered = listStatement({ deviceId: 'd', statuses: ['SENT'], after, limit: 500 });
    expect(filtered.name).toBe('list_device_status_after_500');
    expect(filtered.values).toEqual(['d', ['SENT'], after.createdAt, 'c']);
    expect(filtered.text).toContain('LIMIT 501');
  });

  it('sends other page sizes unnamed, so a connection keeps a bounded number of statements', () => {
    const odd = listStatement({ deviceId: 'd', limit: 37 });
    expect(odd.name).toBeUndefined();
    expect(odd.text).toContain('LIMIT 38');
    expect(odd.values).toEqual(['d']);
  });
});
