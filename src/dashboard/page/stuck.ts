import { api, type Change, type Command, type Page } from './api.js';
import { commandName, counts } from './counts.js';
import { deviceRoute, durationText, h, heading, link, timeText, ZONE } from './dom.js';
import { openStatuses } from './statuses.js';
import { commandTable, countTable, markNoLongerMatching } from './table.js';
import { debounce, type View, type ViewContext } from './view.js';

export const DEFAULT_SILENT_MINUTES = 10;
const PAGE_SIZE = 50;

/** The stuck view's route: open commands (some statuses) silent for more than `minutes`. */
export function stuckRoute(minutes = DEFAULT_SILENT_MINUTES, status?: string): string {
  const query = new URLSearchParams({ minutes: String(minutes) });
  if (status !== undefined) {
    query.set('status', status);
  }
  return `/stuck?${query.toString()}`;
}

/**
 * Open commands by how long they have been silent (their last change), oldest first, with their
 * total and counts by device and by command. Commands that change leave the view: a listed one
 * is marked as it changes, and the view reads again shortly after.
 */
export function stuckView(context: ViewContext, query: URLSearchParams): View {
  const given = Number(query.get('minutes') ?? DEFAULT_SILENT_MINUTES);
  const minutes = Number.isInteger(given) && given >= 0 ? given : DEFAULT_SILENT_MINUTES;
  const open = openStatuses();
  const asked = (query.get('status') ?? '').split(',').filter((s) => open.includes(s));
  const statuses = asked.length > 0 ? asked : open;
  let cursor: string | null = null;

  const minutesInput = h('input', {
    id: 'silent-minutes',
    type: 'number',
    min: 0,
    step: 1,
    value: minutes,
    inputmode: 'numeric',
  });
  const form = h(
    'form',
    {
      class: 'filters',
      'aria-label': 'Silent for',
      onsubmit: (event: Event) => {
        event.preventDefault();
        const value = Math.max(0, Math.floor(Number(minutesInput.value) || 0));
        location.hash = stuckRoute(value, asked.length > 0 ? asked.join(',') : undefined);
      },
    },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'silent-minutes' }, 'Silent for more than (minutes)'),
      minutesInput,
    ),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Show')),
  );
  const summary = h('p', { id: 'stuck-total', role: 'status' }, 'Loading…');
  const groups = h('div', { class: 'groups' });
  const results = h('div', { 'aria-busy': 'true' });
  const more = h('button', { type: 'button', hidden: true }, 'More');
  const title = 'Stuck commands';
  const element = h(
    'section',
    { 'aria-labelledby': 'stuck-title' },
    heading('stuck-title', title),
    h(
      'p',
      { class: 'note' },
      `Open commands (${statuses.join(', ')}) by how long they have been silent: the time since their last change, longest first. Times are in ${ZONE}.`,
    ),
    form,
    summary,
    groups,
    h('h3', {}, 'Commands'),
    results,
    more,
  );

  const filters = (before: string) => ({ status: statuses.join(','), updatedBefore: before });

  const load = async () => {
    results.setAttribute('aria-busy', 'true');
    cursor = null;
    const before = new Date(Date.now() - minutes * 60_000).toISOString();
    try {
      const [page, total, byDevice, byCommand] = await Promise.all([
        listPage(filters(before), null),
        counts(filters(before)),
        counts(filters(before), 'deviceId'),
        counts(filters(before), 'command'),
      ]);
      context.read();
      summary.textContent = `${total.total} open commands silent for more than ${durationText(minutes * 60_000)} (since before ${timeText(before)}).`;
      groups.replaceChildren(
        countTable(
          'stuck-by-device',
          'By device, most first',
          'Device',
          byDevice.groups.map((group) => ({
            key: link(deviceRoute(group.key.deviceId ?? ''), group.key.deviceId ?? ''),
            count: group.count,
          })),
        ),
        countTable(
          'stuck-by-command',
          'By command (service / method), most first',
          'Command',
          byCommand.groups.map((group) => ({ key: commandName(group.key), count: group.count })),
        ),
      );
      results.replaceChildren(render(page.items));
      cursor = page.nextCursor;
      more.hidden = cursor === null;
    } catch (error) {
      context.fail(error, results);
    } finally {
      results.setAttribute('aria-busy', 'false');
    }
  };
  more.addEventListener('click', () => {
    const before = new Date(Date.now() - minutes * 60_000).toISOString();
    listPage(filters(before), cursor)
      .then((page) => {
        const body = results.querySelector('tbody');
        const next = render(page.items).querySelector('tbody');
        if (body !== null && next !== null) {
          body.append(...next.children);
        }
        cursor = page.nextCursor;
        more.hidden = cursor === null;
      })
      .catch((error: unknown) => context.fail(error, results));
  });

  void load();
  const reloadSoon = debounce(() => void load(), 5000);
  return {
    element,
    title,
    onChange: (change: Change) => {
      const row = results.querySelector<HTMLTableRowElement>(
        `tr[data-command-id="${CSS.escape(change.commandId)}"]`,
      );
      if (row !== null) {
        markNoLongerMatching(row, `changed to ${change.status}: no longer silent`);
      }
      reloadSoon();
    },
    reload: () => void load(),
  };
}

function listPage(filters: Record<string, string>, cursor: string | null): Promise<Page<Command>> {
  const params = new URLSearchParams({ ...filters, order: 'silent', limit: String(PAGE_SIZE) });
  if (cursor !== null) {
    params.set('cursor', cursor);
  }
  return api<Page<Command>>(`/commands?${params.toString()}`);
}

function render(items: Command[]): HTMLElement {
  return items.length === 0
    ? h('p', {}, 'No open command has been silent that long.')
    : commandTable('stuck-list', 'Open commands, longest silent first', items, [
        'command',
        'device',
        'status',
        'silent',
        'updated',
        'created',
      ]);
}
