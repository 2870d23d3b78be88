import { DataSource } from 'typeorm';
import { MAX_RESPONSE_BYTES } from '../src/commands/sql/read.js';
import { type TestApp, startTestApp } from './support/test-app.js';
import { callbackBody, newCommandId } from './support/factories.js';

// The read routes' bounds (docs/api.md): a lookup holds at most the latest 1,000 history entries
// and 4 MB of JSON and says whether it left any out; the history and list pages stop early at 4 MB
// and continue from their cursor, never repeating or skipping. History and commands are seeded
// with SQL: thousands of reports through HTTP would prove nothing more.

interface Entry {
  id: string;
  status: string;
  payload: { n?: number } | null;
}

interface Lookup {
  commandId: string;
  version: number;
  historyTruncated: boolean;
  history: Entry[];
}

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

// A history payload or resultDetail of about this many bytes: near BODY_LIMIT_BYTES (64 KB).
const LARGE = 60_000;

describe('bounded reads', () => {
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    t = await startTestApp();
    db = t.app.get(DataSource);
  });

  afterAll(async () => {
    await t.close();
  });

  const get = (url: string) => t.app.inject({ method: 'GET', url });

  /** A command with `entries` history entries in all, payloads numbered 1.. in order. */
  async function commandWithHistory(entries: number, padding = 0): Promise<string> {
    const commandId = newCommandId();
    const pushed = await t.app.inject({
      method: 'POST',
      url: '/callbacks/command-status',
      payload: callbackBody({ commandId, n: 1 }),
    });
    expect(pushed.statusCode).toBe(200);
    await db.query(
      `INSERT INTO command_history (
         command_id, status, outcome, source, previous_status, version, result_detail, payload, received_at)
       SELECT $1, 'SENT', 'duplicate', 'callback', 'SENT', 1, NULL,
              jsonb_build_object('n', g, 'pad', repeat('x', $3::integer)), now()
       FROM generate_series(2, $2::integer) g
       ORDER BY g`,
      [commandId, entries, padding],
    );
    return commandId;
  }

  async function lookup(commandId: string): Promise<{ body: string; command: Lookup }> {
    const response = await get(`/commands/${commandId}`);
    expect(response.statusCode).toBe(200);
    return { body: response.body, command: response.json<Lookup>() };
  }

  const numbers = (entries: Entry[]) => entries.map((entry) => entry.payload?.n);
  const range = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => from + i);

  describe('GET /commands/{commandId}', () => {
    it('says historyTruncated false, after version and before history, on a short history', async () => {
      const { body, command } = await lookup(await commandWithHistory(3));
      expect(command.historyTruncated).toBe(false);
      expect(numbers(command.history)).toEqual([1, 2, 3]);
      expect(body).toMatch(/"version":1,"historyTruncated":false,"history":\[/);
    });

    it.each([
      [999, false, range(1, 999)],
      [1000, false, range(1, 1000)],
      [1001, true, range(2, 1001)],
      [1500, true, range(501, 1500)],
    ])(
      'with %i entries answers historyTruncated %s and the latest 1,000 at most, oldest first',
      async (entries, truncated, expected) => {
        const { command } = await lookup(await commandWithHistory(entries));
        expect(command.historyTruncated).toBe(truncated);
        expect(numbers(command.history)).toEqual(expected);
        const ids = command.history.map((entry) => BigInt(entry.id));
        expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      },
    );

    it('keeps a history of large payloads whole while it fits in 4 MB', async () => {
      const { body, command } = await lookup(await commandWithHistory(65, LARGE));
      expect(command.historyTruncated).toBe(false);
      expect(command.history).toHaveLength(65);
      expect(Buffer.byteLength(body)).toBeGreaterThan(64 * LARGE);
    });

    it('sends only the latest entries that fit in 4 MB when large payloads pass it', async () => {
      const { body, command } = await lookup(await commandWithHistory(200, LARGE));
      expect(command.historyTruncated).toBe(true);
      const size = Buffer.byteLength(body);
      expect(size).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
      // The latest entries, as many as fit: one more would pass the bound.
      const sent = numbers(command.history);
      expect(sent).toEqual(range(201 - sent.length, 200));
      const entrySize = Buffer.byteLength(JSON.stringify(command.history[0])) + 1;
      expect(size + entrySize).toBeGreaterThan(MAX_RESPONSE_BYTES);
    });
  });

  describe('GET /commands/{commandId}/history', () => {
    async function walk(
      commandId: string,
      query: string,
    ): Promise<{ entries: Entry[]; pages: number[] }> {
      const entries: Entry[] = [];
      const pages: number[] = [];
      let cursor: string | null = null;
      do {
        const response = await get(
          `/commands/${commandId}/history?${query}${cursor === null ? '' : `&cursor=${cursor}`}`,
        );
        expect(response.statusCode).toBe(200);
        expect(Buffer.byteLength(response.body)).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
        const page = response.json<Page<Entry>>();
        entries.push(...page.items);
        pages.push(page.items.length);
        cursor = page.nextCursor;
      } while (cursor !== null && pages.length < 100);
      return { entries, pages };
    }

    it('pages through a long history, every entry once, oldest first', async () => {
      const commandId = await commandWithHistory(2345);
      const { entries, pages } = await walk(commandId, 'limit=1000');
      expect(pages).toEqual([1000, 1000, 345]);
      expect(numbers(entries)).toEqual(range(1, 2345));
      expect(new Set(entries.map((entry) => entry.id)).size).toBe(2345);
    });

    it('gives 100 entries a page by default and ends with null when the last page is exactly full', async () => {
      const commandId = await commandWithHistory(200);
      const { pages } = await walk(commandId, '');
      expect(pages).toEqual([100, 100]);
    });

    it('stops a page early at 4 MB of large payloads and continues from its cursor', async () => {
      const commandId = await commandWithHistory(150, LARGE);
      const { entries, pages } = await walk(commandId, 'limit=1000');
      expect(pages.length).toBeGreaterThan(1);
      expect(pages[0]).toBeLessThan(150);
      expect(numbers(entries)).toEqual(range(1, 150));
    });

    it('holds entries in the same shape as the lookup', async () => {
      const commandId = await commandWithHistory(2);
      const page = (await get(`/commands/${commandId}/history`)).json<Page<Entry>>();
      const { command } = await lookup(commandId);
      expect(page).toEqual({ items: command.history, nextCursor: null });
    });

    it('answers 404 as problem details for an unknown command', async () => {
      const response = await get(`/commands/${newCommandId()}/history`);
      expect(response.statusCode).toBe(404);
      expect(response.headers['content-type']).toContain('application/problem+json');
    });

    it.each([
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1&limit=2', 'limit'],
      ['cursor=not-a-cursor!', 'cursor'],
      [`cursor=${Buffer.from('{"after":"x"}').toString('base64url')}`, 'cursor'],
    ])('answers %s with 400 problem details', async (query, field) => {
      const commandId = await commandWithHistory(1);
      const response = await get(`/commands/${commandId}/history?${query}`);
      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json().errors.map((e: { field: string }) => e.field)).toEqual([field]);
    });

    it('answers 400 for a commandId over 128 characters', async () => {
      const response = await get(`/commands/${'x'.repeat(129)}/history`);
      expect(response.statusCode).toBe(400);
      expect(response.json().errors[0].field).toBe('commandId');
    });
  });

  describe('GET /commands', () => {
    /** `count` commands of one device, each with a resultDetail of `padding` bytes, 1 newest. */
    async function largeCommands(count: number, padding: number): Promise<string> {
      const deviceId = `large-${newCommandId()}`;
      await db.query(
        `INSERT INTO commands (
           command_id, device_id, status, rank, result_detail, created_at, updated_at, deadline, version)
         SELECT $1 || '-' || lpad(g::text, 4, '0'), $1, 'SUCCESSFUL', 4,
                jsonb_build_object('pad', repeat('x', $3::integer)),
                timestamptz '2026-01-01T00:00:00Z' - (g / 3) * interval '1 second', now(),
                now() + interval '1 day', 1
         FROM generate_series(1, $2::integer) g`,
        [deviceId, count, padding],
      );
      return deviceId;
    }

    it('stops a page early at 4 MB and pages on without repeating or skipping a command', async () => {
      const deviceId = await largeCommands(150, LARGE);
      const seen: string[] = [];
      const pages: number[] = [];
      let cursor: string | null = null;
      do {
        const response = await get(
          `/commands?deviceId=${deviceId}&limit=500${cursor === null ? '' : `&cursor=${cursor}`}`,
        );
        expect(response.statusCode).toBe(200);
        expect(Buffer.byteLength(response.body)).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
        const page = response.json<Page<{ commandId: string }>>();
        seen.push(...page.items.map((item) => item.commandId));
        pages.push(page.items.length);
        cursor = page.nextCursor;
      } while (cursor !== null && pages.length < 100);
      expect(pages.length).toBeGreaterThan(1);
      expect(pages.slice(0, -1).every((size) => size > 0.9 * (MAX_RESPONSE_BYTES / LARGE))).toBe(
        true,
      );
      // Newest first: by createdAt (three commands share each), then commandId, both descending.
      const expected = range(1, 150)
        .map((g) => ({ g, id: `${deviceId}-${String(g).padStart(4, '0')}` }))
        .sort((a, b) => Math.floor(a.g / 3) - Math.floor(b.g / 3) || (a.id < b.id ? 1 : -1))
        .map(({ id }) => id);
      expect(seen).toEqual(expected);
    });

    it('fills a page to its limit when the commands are small', async () => {
      const deviceId = await largeCommands(30, 10);
      const page = (await get(`/commands?deviceId=${deviceId}&limit=30`)).json<Page<unknown>>();
      expect(page.items).toHaveLength(30);
      expect(page.nextCursor).toBeNull();
      const full = (await get(`/commands?deviceId=${deviceId}&limit=29`)).json<Page<unknown>>();
      expect(full.items).toHaveLength(29);
      expect(full.nextCursor).not.toBeNull();
    });
  });
});
