import { type Command } from './api.js';
import {
  commandRoute,
  deviceRoute,
  durationText,
  h,
  link,
  statusBadge,
  time,
  timeText,
} from './dom.js';

/** The columns a list of commands can show. */
export type Column =
  'command' | 'device' | 'status' | 'silent' | 'created' | 'updated' | 'deadline';

const HEADINGS: Record<Column, string> = {
  command: 'Command',
  device: 'Device',
  status: 'Status',
  silent: 'Silent for',
  created: 'Created',
  updated: 'Last change',
  deadline: 'Deadline',
};

function cell(command: Command, column: Column, now: number): HTMLTableCellElement {
  switch (column) {
    case 'command':
      return h('td', { class: 'id' }, link(commandRoute(command.commandId), command.commandId));
    case 'device':
      return h('td', { class: 'id' }, link(deviceRoute(command.deviceId), command.deviceId));
    case 'status':
      return h('td', { class: 'status-cell' }, statusBadge(command.status));
    case 'silent':
      return h(
        'td',
        { class: 'num age', title: `since ${timeText(command.updatedAt)}` },
        durationText(now - Date.parse(command.updatedAt)),
      );
    case 'created':
      return h('td', {}, time(command.createdAt));
    case 'updated':
      return h('td', {}, time(command.updatedAt));
    case 'deadline':
      return h(
        'td',
        {
          class:
            command.completedAt === null && Date.parse(command.deadline) < now ? 'overdue' : '',
        },
        time(command.deadline),
      );
  }
}

/** A table of commands, one row each, marked with its id for live updates. */
export function commandTable(
  id: string,
  caption: string,
  items: Command[],
  columns: Column[],
): HTMLElement {
  const now = Date.now();
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { id },
      h('caption', { class: 'visually-hidden' }, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map((column) =>
            h('th', { scope: 'col', class: column === 'silent' ? 'num' : '' }, HEADINGS[column]),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        items.map((command) =>
          h(
            'tr',
            { 'data-command-id': command.commandId },
            columns.map((column) => cell(command, column, now)),
          ),
        ),
      ),
    ),
  );
}

/** A row whose command changed so that it no longer matches the list's filter: marked, kept. */
export function markNoLongerMatching(row: HTMLTableRowElement, why: string): void {
  if (row.classList.contains('no-match')) {
    return;
  }
  row.classList.add('no-match');
  row.dataset.noMatch = 'true';
  row.querySelector('td')?.append(h('span', { class: 'no-match-note' }, ` (${why})`));
}

/** A table of counts by a key, largest first: key cells are given, counts are numbers. */
export function countTable(
  id: string,
  caption: string,
  keyHeading: string,
  rows: { key: Node | string; count: number }[],
): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { id },
      h('caption', {}, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, keyHeading),
          h('th', { scope: 'col', class: 'num' }, 'Commands'),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map((row) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row', class: 'id' }, row.key),
            h('td', { class: 'num' }, row.count),
          ),
        ),
      ),
    ),
  );
}
