import {
  api,
  ApiError,
  type Change,
  type Command,
  type CommandWithHistory,
  type Dispatch,
  type Page,
  segment,
} from './api.js';
import { csvOf, download, fetchAll } from './csv.js';
import {
  commandRoute,
  deviceRoute,
  h,
  heading,
  inputToInstant,
  instantToInput,
  link,
  listRoute,
  statusBadge,
  ZONE,
} from './dom.js';
import { statusNames } from './statuses.js';
import { campaignRoute, dispatchRoute } from './dispatch.js';
import { commandTable, markNoLongerMatching } from './table.js';
import { debounce, type View, type ViewContext } from './view.js';

const PAGE_SIZE = 25;

/**
 * The filtered list, newest first, paged by GET /commands' cursors. `q` (the search box) shows the
 * command with that id, or else the commands of devices whose id starts with it.
 */
export function commandsView(context: ViewContext, query: URLSearchParams): View {
  const q = query.get('q')?.trim() ?? '';
  const deviceId = query.get('deviceId') ?? '';
  const prefix = q !== '' ? q : (query.get('deviceIdPrefix') ?? '');
  const statuses = (query.get('status') ?? '').split(',').filter((s) => s !== '');
  const since = query.get('since');
  const until = query.get('until');
  // From a campaign's failures: kept through the filter form, which has no field for it.
  const campaignId = query.get('campaignId') ?? undefined;
  // Cursors of the pages before the current one, for "Newer".
  const cursors: (string | null)[] = [];
  let cursor: string | null = null;
  let nextCursor: string | null = null;

  const found = h('div', { id: 'search-result' });
  const announce = h('p', { id: 'list-status', class: 'visually-hidden', role: 'status' });
  const results = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  const newer = h('button', { type: 'button', disabled: true }, '← Newer');
  const older = h('button', { type: 'button', disabled: true }, 'Older →');
  const pageLabel = h('span', { class: 'page-label' });
  const exportButton = h('button', { type: 'button', id: 'export-csv' }, 'Export CSV');
  const exportMessage = h('span', { id: 'export-message', role: 'status' });

  const deviceInput = h('input', {
    id: 'filter-device',
    name: 'deviceId',
    value: deviceId !== '' ? deviceId : prefix,
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const prefixBox = h('input', {
    type: 'checkbox',
    id: 'filter-prefix',
    checked: deviceId === '' && prefix !== '',
  });
  const sinceInput = h('input', {
    id: 'filter-since',
    type: 'datetime-local',
    value: instantToInput(since),
  });
  const untilInput = h('input', {
    id: 'filter-until',
    type: 'datetime-local',
    value: instantToInput(until),
  });
  const statusBoxes = statusNames().map((status) =>
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
        const device = deviceInput.value.trim();
        location.hash = listRoute({
          deviceId: prefixBox.checked ? undefined : device,
          deviceIdPrefix: prefixBox.checked ? device : undefined,
          status: statusBoxes
            .filter((box) => box.checked)
            .map((box) => box.value)
            .join(','),
          since: inputToInstant(sinceInput.value),
          until: inputToInstant(untilInput.value),
          campaignId,
        });
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'filter-device' }, 'Device id'), deviceInput),
    h('label', { class: 'check' }, prefixBox, ' Ids starting with this'),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Status'),
      statusBoxes.map((box) => h('label', { class: 'check' }, box, ` ${box.value}`)),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'filter-since' }, `Created from (${ZONE})`),
      sinceInput,
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'filter-until' }, `Created before (${ZONE})`),
      untilInput,
    ),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit' }, 'Apply filters'),
      h('a', { href: '#/commands', class: 'button-link' }, 'Clear'),
    ),
  );

  const title = q === '' ? 'Commands' : `Search: ${q}`;
  const listPart = [
    form,
    h('p', { class: 'actions' }, exportButton, ' ', exportMessage),
    announce,
    results,
    h('nav', { class: 'pager', 'aria-label': 'Pages' }, newer, pageLabel, older),
  ];
  const element = h(
    'section',
    { 'aria-labelledby': 'commands-title' },
    heading('commands-title', title),
    campaignId === undefined
      ? null
      : h(
          'p',
          { id: 'campaign-filter' },
          'Commands of campaign ',
          link(campaignRoute(campaignId), campaignId),
        ),
    found,
    h('div', { id: 'list-part', hidden: q !== '' }, listPart),
  );

  const filterParams = () => {
    const params = new URLSearchParams();
    if (deviceId !== '') {
      params.set('deviceId', deviceId);
    } else if (prefix !== '') {
      params.set('deviceIdPrefix', prefix);
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
    if (campaignId !== undefined) {
      params.set('campaignId', campaignId);
    }
    return params;
  };

  const load = async () => {
    results.setAttribute('aria-busy', 'true');
    try {
      const params = filterParams();
      params.set('limit', String(PAGE_SIZE));
      if (cursor !== null) {
        params.set('cursor', cursor);
      }
      const page = await api<Page<Command>>(`/commands?${params.toString()}`);
      context.read();
      nextCursor = page.nextCursor;
      results.replaceChildren(
        page.items.length === 0
          ? h('p', {}, 'No commands match these filters.')
          : commandTable('command-list', 'Commands, newest first', page.items, [
              'command',
              'device',
              'status',
              'created',
              'updated',
              'deadline',
            ]),
      );
      newer.disabled = cursors.length === 0;
      older.disabled = nextCursor === null;
      pageLabel.textContent = `Page ${cursors.length + 1}`;
      announce.textContent = `Page ${cursors.length + 1}: ${page.items.length} commands`;
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
  exportButton.addEventListener('click', () => {
    exportButton.disabled = true;
    exportMessage.textContent = 'Exporting…';
    fetchAll(filterParams())
      .then(({ commands, complete }) => {
        download('commands.csv', csvOf(commands));
        exportMessage.textContent = complete
          ? `Exported ${commands.length} commands.`
          : `Exported the first ${commands.length} commands; narrow the filter for the rest.`;
      })
      .catch((error: unknown) => context.fail(error, exportMessage))
      .finally(() => {
        exportButton.disabled = false;
      });
  });

  // A search shows the command with that id only; without one, the devices' commands.
  const search = async () => {
    try {
      const command = await api<CommandWithHistory>(`/commands/${segment(q)}`);
      context.read();
      found.replaceChildren(
        h(
          'p',
          {},
          'Command ',
          link(commandRoute(command.commandId), command.commandId),
          ' (device ',
          link(deviceRoute(command.deviceId), command.deviceId),
          ', ',
          statusBadge(command.status),
          ')',
        ),
      );
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        found.replaceChildren(
          h('p', {}, `No command has the id ${q}; commands of devices whose id starts with it:`),
        );
        // A dispatch id pasted from a ticket: its dispatch, also while it has no command yet.
        api<Dispatch>(`/dispatches/${segment(q)}`).then(
          (dispatch) =>
            found.prepend(
              h(
                'p',
                { id: 'search-dispatch' },
                'Dispatch ',
                link(dispatchRoute(dispatch.dispatchId), dispatch.dispatchId),
                ` (device ${dispatch.deviceId}, ${dispatch.state})`,
              ),
            ),
          () => undefined,
        );
        element.querySelector<HTMLElement>('#list-part')?.removeAttribute('hidden');
        void load();
      } else {
        context.fail(error, found);
      }
    }
  };

  if (q === '') {
    void load();
  } else {
    void search();
  }
  const reloadFirstPage = debounce(() => void load(), 1000);
  return {
    element,
    title,
    onChange: (change: Change) => {
      const row = results.querySelector<HTMLTableRowElement>(
        `tr[data-command-id="${CSS.escape(change.commandId)}"]`,
      );
      if (row !== null) {
        row.querySelector('.status-cell')?.replaceChildren(statusBadge(change.status));
        row.classList.add('changed');
        if (statuses.length > 0 && !statuses.includes(change.status)) {
          markNoLongerMatching(row, `now ${change.status}: no longer matches the filter`);
        }
      }
      // A new command lands on the first page; later pages only update in place.
      if (row === null && cursor === null) {
        reloadFirstPage();
      }
    },
    reload: () => void load(),
  };
}
