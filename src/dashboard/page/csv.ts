import { api, type Command, type Page } from './api.js';

const COLUMNS: (keyof Command)[] = [
  'commandId',
  'deviceId',
  'status',
  'serviceId',
  'method',
  'createdAt',
  'updatedAt',
  'deadline',
  'sentAt',
  'deliveredAt',
  'completedAt',
  'version',
  'resultDetail',
];

/** Rows one export takes at most: 20 pages of 500. */
export const MAX_EXPORT_ROWS = 10_000;

/**
 * A CSV cell: quoted when it holds a separator, a quote or a line break; text a spreadsheet would
 * run as a formula (=, +, -, @, tab, CR first) gets a leading apostrophe.
 */
function cell(value: unknown): string {
  let text =
    value === null || value === undefined
      ? ''
      : typeof value === 'string'
        ? value
        : typeof value === 'number'
          ? String(value)
          : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) {
    text = `'${text}`;
  }
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvOf(commands: Command[]): string {
  const lines = [COLUMNS.join(',')];
  for (const command of commands) {
    lines.push(COLUMNS.map((column) => cell(command[column])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * Every command of a GET /commands query (without limit and cursor), page by page, up to
 * MAX_EXPORT_ROWS; `complete` says whether that was all of them.
 */
export async function fetchAll(
  params: URLSearchParams,
): Promise<{ commands: Command[]; complete: boolean }> {
  const commands: Command[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams(params);
    query.set('limit', '500');
    if (cursor !== null) {
      query.set('cursor', cursor);
    }
    const page: Page<Command> = await api<Page<Command>>(`/commands?${query.toString()}`);
    commands.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null && commands.length < MAX_EXPORT_ROWS);
  return { commands: commands.slice(0, MAX_EXPORT_ROWS), complete: cursor === null };
}

/** Offers `text` as a file download. */
export function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const anchor = document.createElement('a');
  anchor.href = url;
  anchor.download = name;
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
