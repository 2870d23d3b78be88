import { api, type Change, type Command, type Dispatch, type Page } from './api.js';
import { dispatchTable, OPEN_DISPATCH_STATES } from './dispatch.js';
import { counts } from './counts.js';
import { h, heading, listRoute, replaceKeepingFocus, statusBadge, time } from './dom.js';
import { finishedStatuses, statusNames } from './statuses.js';
import { commandTable } from './table.js';
import { debounce, type View, type ViewContext } from './view.js';

const OPEN_SHOWN = 25;

/** One device: its commands by status, success rate, last seen status, and latest commands. */
export function deviceView(context: ViewContext, deviceId: string): View {
  const title = `Device ${deviceId}`;
  const facts = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  const results = h('div', {});
  const dispatches = h('div', { id: 'device-dispatches' });
  const element = h(
    'section',
    { 'aria-labelledby': 'device-title' },
    heading('device-title', 'Device ', h('span', { class: 'id' }, deviceId)),
    facts,
    h('h3', {}, 'Open dispatches'),
    dispatches,
    h('h3', {}, 'Latest commands'),
    results,
    h('p', {}, h('a', { href: `#${listRoute({ deviceId })}` }, 'All its commands, with filters')),
  );

  const load = async () => {
    try {
      const device = encodeURIComponent(deviceId);
      const [byStatus, page, open] = await Promise.all([
        counts({ deviceId }, 'status', statusNames().length),
        api<Page<Command>>(`/commands?deviceId=${device}&limit=25`),
        api<Page<Dispatch>>(
          `/dispatches?deviceId=${device}&state=${OPEN_DISPATCH_STATES}&limit=${OPEN_SHOWN}`,
        ),
      ]);
      context.read();
      const count = (status: string) =>
        byStatus.groups.find((group) => group.key.status === status)?.count ?? 0;
      const finished = finishedStatuses().reduce((sum, status) => sum + count(status), 0);
      const successful = count('SUCCESSFUL');
      // The device was last heard of through the command that changed last.
      const latest = page.items.reduce<Command | undefined>(
        (last, command) =>
          last === undefined || command.updatedAt > last.updatedAt ? command : last,
        undefined,
      );
      replaceKeepingFocus(
        facts,
        h(
          'dl',
          { class: 'summary', id: 'device-facts' },
          h('dt', {}, 'Commands'),
          h('dd', {}, String(byStatus.total)),
          h('dt', {}, 'Success rate'),
          h(
            'dd',
            { id: 'success-rate' },
            finished === 0
              ? 'no finished command yet'
              : `${Math.round((successful / finished) * 1000) / 10}% (${successful} of ${finished} finished)`,
          ),
          h('dt', {}, 'Last seen status'),
          h(
            'dd',
            { id: 'last-seen' },
            latest === undefined ? '—' : [statusBadge(latest.status), ' ', time(latest.updatedAt)],
          ),
          h('dt', {}, 'By status'),
          h(
            'dd',
            {},
            byStatus.groups.flatMap((group) => [
              statusBadge(group.key.status ?? ''),
              ` ${group.count} `,
            ]),
          ),
        ),
      );
      facts.setAttribute('aria-busy', 'false');
      replaceKeepingFocus(
        dispatches,
        open.items.length === 0
          ? h('p', {}, 'No open dispatch (queued or sending).')
          : dispatchTable(
              'device-open-dispatches',
              `Open dispatches of ${deviceId}, newest first${open.nextCursor === null ? '' : ` (the latest ${OPEN_SHOWN})`}`,
              open.items,
            ),
      );
      replaceKeepingFocus(
        results,
        page.items.length === 0
          ? h('p', {}, 'No commands.')
          : commandTable('device-commands', `Commands of ${deviceId}, newest first`, page.items, [
              'command',
              'status',
              'created',
              'updated',
              'deadline',
            ]),
      );
    } catch (error) {
      context.fail(error, facts);
    }
  };
  void load();
  const reloadSoon = debounce(() => void load(), 1000);
  return {
    element,
    title,
    onChange: (change: Change) => {
      if (change.deviceId === deviceId) {
        reloadSoon();
      }
    },
    reload: () => void load(),
    // A queued dispatch's attempts change no command: read again now and then.
    poll: () => void load(),
  };
}
