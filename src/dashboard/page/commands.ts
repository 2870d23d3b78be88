import {
  api,
  ApiError,
  type Change,
  type Command,
  type CommandWithHistory,
  type Page,
  segment,
  STATUSES,
} from './api.js';
import { commandRoute, h, link, listRoute, statusBadge, time } from './dom.js';
import { debounce, type View, type ViewContext } from './view.js';

const PAGE_SIZE = 25;

/** `datetime-local` (the browser's time zone) to an ISO instant, and back. */
function toInstant(local: string): string | undefined {
  const date = new Date(local);
  return local === '' || Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
function toLocal(iso: string | null): string {
  if (iso === null) {
    return '';
  }
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return '';
  }
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return shifted.toISOString().slice(0, 16);
}

/**
 * The filtered list, newest first, paged by GET /commands' cursors; `q` (the search box) finds a
 * command by its id and the commands of a device by the device's id.
 */
export function commandsView(context: ViewContext, query: URLSearchParams): View {
  const q = query.get('q')?.trim() ?? '';
  const deviceId = q !== '' ? q : (query.get('deviceId') ?? '');
  const statuses = (query.get('status') ?? '').split(',').filter((s) => s !== '');
  const since = query.get('since');
  const until = query.get('until');
  // Cursors of the pages before the current one, for "Newer".
  const cursors: (string | null)[] = [];
  let cursor: string | null = null;
  let nextCursor: string | null = null;

  const found = h('div', { id: 'search-result', role: 'status' });
  const results = h('div', { 'aria-live': 'polite', 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  const newer = h('button', { type: 'button', disabled: true }, '← Newer');
  const older = h('button', { type: 'button', disabled: true }, 'Older →');
  const pageLabel = h('span', { class: 'page-label' });

  const deviceInput = h('input', {
    id: 'filter-device',
    name: 'deviceId',
    value: deviceId,
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const sinceInput = h('input', {
    id: 'filter-since',
    type: 'datetime-local',
    value: toLocal(since),
  });
  const untilInput = h('input', {
    id: 'filter-until',
    type: 'datetime-local',
    value: toLocal(until),
  });
  const statusBoxes = STATUSES.map((status) =>
    h('input', {
      type: 'checkbox',
      value: status,
      id: `filter-${status}`,
      checked: statuses.includes(status),
    }),
  );
  const form = h(
    'form',
    {
      class: 'filters',
      'aria-label': 'Filter commands',
      onsubmit: (event: Event) => {
        event.preventDefault();
        location.hash = listRoute({
          deviceId: deviceInput.value.trim(),
          status: statusBoxes
            .filter((box) => box.checked)
            .map((box) => box.value)
            .join(','),
          since: toInstant(sinceInput.value),
          until: toInstant(untilInput.value),
        });
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'filter-device' }, 'Device id'), deviceInput),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Status'),
      statusBoxes.map((box) => h('label', { class: 'check' }, box, ` ${box.value}`)),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'filter-since' }, 'Created from (your time)'),
      sinceInput,
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'filter-until' }, 'Created before (your time)'),
      untilInput,
    ),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit' }, 'Apply filters'),
      h('a', { href: '#/commands', class: 'button-link' }, 'Clear'),
    ),
  );

  const element = h(
    'section',
    { 'aria-labelledby': 'commands-title' },
    h('h2', { id: 'commands-title' }, q === '' ? 'Commands' : `Search: ${q}`),
    found,
    form,
    results,
    h('nav', { class: 'pager', 'aria-label': 'Pages' }, newer, pageLabel, older),
  );

  const listUrl = () => {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (deviceId !== '') {
      params.set('deviceId', deviceId);
    }
    if (statuses.length > 0) {
      params.set('status', statuses.join(','));
    }
    if (since !== null) {
      params.set('since', since);
    }
    if (until !== null) {
      params.set('until', until);
    }
    if (cursor !== null) {
      params.set('cursor', cursor);
    }
    return `/commands?${params.toString()}`;
  };

  const load = async () => {
    results.setAttribute('aria-busy', 'true');
    try {
      const page = await api<Page<Command>>(listUrl());
      nextCursor = page.nextCursor;
      results.replaceChildren(renderList(page.items, q !== '' || deviceId !== ''));
      newer.disabled = cursors.length === 0;
      older.disabled = nextCursor === null;
      pageLabel.textContent = `Page ${cursors.length + 1}`;
    } catch (error) {
      context.fail(error, results);
    } finally {
      results.setAttribute('aria-busy', 'false');
    }
  };
  older.addEventListener('click', () => {
    if (nextCursor !== null) {
      cursors.push(cursor);
      cursor = nextCursor;
      void load();
    }
  });
  newer.addEventListener('click', () => {
    if (cursors.length > 0) {
      cursor = cursors.pop() ?? null;
      void load();
    }
  });

  const search = async () => {
    if (q === '') {
      return;
    }
    try {
      const command = await api<CommandWithHistory>(`/commands/${segment(q)}`);
      found.replaceChildren(
        h(
          'p',
          {},
          'Command ',
          link(commandRoute(command.commandId), command.commandId),
          ' (device ',
          command.deviceId,
          ', ',
          statusBadge(command.status),
          ')',
        ),
      );
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        found.replaceChildren(
          h(
            'p',
            {},
            `No command has the id ${q}; commands of a device with that id are listed below.`,
          ),
        );
      } else {
        context.fail(error, found);
      }
    }
  };

  void load();
  void search();
  const reloadFirstPage = debounce(() => void load(), 1000);
  return {
    element,
    onChange: (change: Change) => {
      const row = results.querySelector<HTMLTableRowElement>(
        `tr[data-command-id="${CSS.escape(change.commandId)}"]`,
      );
      if (row !== null) {
        row.querySelector('.status-cell')?.replaceChildren(statusBadge(change.status));
        row.classList.add('changed');
      }
      // A new command lands on the first page; later pages only update in place.
      if (row === null && cursor === null) {
        reloadFirstPage();
      }
    },
    reload: () => void load(),
  };
}

function renderList(items: Command[], filteredByDevice: boolean): HTMLElement {
  if (items.length === 0) {
    return h(
      'p',
      {},
      filteredByDevice
        ? 'No commands for this device and these filters.'
        : 'No commands match these filters.',
    );
  }
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { id: 'command-list' },
      h('caption', { class: 'visually-hidden' }, 'Commands, newest first'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Command', 'Device', 'Status', 'Created', 'Updated', 'Deadline'].map((name) =>
            h('th', { scope: 'col' }, name),
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
            h('td', { class: 'id' }, link(commandRoute(command.commandId), command.commandId)),
            h(
              'td',
              { class: 'id' },
              link(listRoute({ deviceId: command.deviceId }), command.deviceId),
            ),
            h('td', { class: 'status-cell' }, statusBadge(command.status)),
            h('td', {}, time(command.createdAt)),
            h('td', {}, time(command.updatedAt)),
            h('td', {}, time(command.deadline)),
          ),
        ),
      ),
    ),
  );
}
