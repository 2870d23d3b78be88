import {
  api,
  ApiError,
  type Change,
  type CommandWithHistory,
  type Dispatch,
  type HistoryEntry,
  KeyRequired,
  type Page,
  segment,
} from './api.js';
import { dispatchDetails } from './dispatch.js';
import { deviceRoute, h, heading, link, listRoute, statusBadge, time } from './dom.js';
import { debounce, type View, type ViewContext } from './view.js';

const HISTORY_PAGE = 1000;

function byId(a: HistoryEntry, b: HistoryEntry): number {
  const [x, y] = [BigInt(a.id), BigInt(b.id)];
  return x < y ? -1 : x > y ? 1 : 0;
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? 'null';
}

/** One command: its state, every report in order, and the platform actions. */
export function timelineView(context: ViewContext, commandId: string): View {
  const path = `/commands/${segment(commandId)}`;
  const summary = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  const message = h('p', { id: 'action-message', role: 'status', class: 'message' });
  const historyPart = h('div');
  const dispatchPart = h('div', { id: 'command-dispatch' });
  const actions = h('div', { class: 'actions' });
  // Entries by id, so that a reload after a live change or a full-history load merges.
  const entries = new Map<string, HistoryEntry>();
  let truncated = false;
  let wholeHistory = false;

  const element = h(
    'section',
    { 'aria-labelledby': 'timeline-title' },
    heading('timeline-title', 'Command ', h('span', { class: 'id' }, commandId)),
    summary,
    actions,
    message,
    dispatchPart,
    h('h3', {}, 'Timeline'),
    historyPart,
  );

  const action = (label: string, verb: 'reconcile' | 'cancel', confirmText?: string) => {
    const button = h('button', { type: 'button', id: `action-${verb}` }, label);
    button.addEventListener('click', () => {
      if (confirmText !== undefined && !window.confirm(confirmText)) {
        return;
      }
      button.disabled = true;
      message.className = 'message';
      message.textContent = `${label}: asking the platform…`;
      api<CommandWithHistory>(`${path}/${verb}`, 'POST')
        .then((command) => {
          message.textContent = `${label}: done; the status is ${command.status}.`;
          show(command);
        })
        .catch((error: unknown) => {
          if (error instanceof KeyRequired) {
            context.fail(error, message);
            return;
          }
          message.className = 'message error';
          message.textContent = `${label} failed: ${actionProblem(error)}`;
        })
        .finally(() => {
          button.disabled = false;
        });
    });
    return button;
  };
  if (context.settings.reconcile) {
    actions.append(action('Reconcile now', 'reconcile'));
  }
  if (context.settings.cancel) {
    actions.append(
      action(
        'Cancel command',
        'cancel',
        `Cancel ${commandId} on the platform? Only a PENDING command can be canceled.`,
      ),
    );
  }

  const show = (command: CommandWithHistory) => {
    for (const entry of command.history) {
      entries.set(entry.id, entry);
    }
    truncated = command.historyTruncated === true && !wholeHistory;
    context.read();
    summary.replaceChildren(renderSummary(command));
    summary.setAttribute('aria-busy', 'false');
    renderHistory();
  };

  const renderHistory = () => {
    const sorted = [...entries.values()].sort(byId);
    const notice = truncated
      ? h(
          'p',
          { class: 'note', id: 'history-truncated' },
          `This long history is shown from its latest ${sorted.length} entries. `,
          h(
            'button',
            { type: 'button', onclick: () => void loadWholeHistory() },
            'Load the whole history',
          ),
        )
      : null;
    historyPart.replaceChildren(...[notice, renderEntries(sorted)].filter((n) => n !== null));
  };

  const loadWholeHistory = async () => {
    let cursor: string | null = null;
    let pages = 0;
    try {
      do {
        const query = new URLSearchParams({ limit: String(HISTORY_PAGE) });
        if (cursor !== null) {
          query.set('cursor', cursor);
        }
        const page: Page<HistoryEntry> = await api<Page<HistoryEntry>>(
          `${path}/history?${query.toString()}`,
        );
        for (const entry of page.items) {
          entries.set(entry.id, entry);
        }
        cursor = page.nextCursor;
        pages += 1;
        message.textContent = `Loaded ${entries.size} entries (${pages} pages)…`;
      } while (cursor !== null);
      wholeHistory = true;
      truncated = false;
      message.textContent = `The whole history: ${entries.size} entries.`;
      renderHistory();
    } catch (error) {
      context.fail(error, message);
    }
  };

  // The dispatch that sent it (POST /dispatches), with its attempts; most commands have none.
  const loadDispatch = async () => {
    const { dispatchId } = await api<{ dispatchId: string | null }>(
      `/dashboard/api/commands/${segment(commandId)}/dispatch`,
    );
    if (dispatchId === null) {
      dispatchPart.replaceChildren();
      return;
    }
    const dispatch = await api<Dispatch>(`/dispatches/${segment(dispatchId)}`);
    dispatchPart.replaceChildren(h('h3', {}, 'Sent through a dispatch'), dispatchDetails(dispatch));
  };

  const load = async () => {
    try {
      show(await api<CommandWithHistory>(path));
      // Apart from the command: a failure here shows in the dispatch's place, not over the command.
      loadDispatch().catch((error: unknown) => context.fail(error, dispatchPart));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        summary.replaceChildren(
          h(
            'p',
            { class: 'message error' },
            `No command has the id ${commandId}. `,
            link(listRoute({ q: commandId }), 'Search for it as a device id'),
          ),
        );
        actions.replaceChildren();
        return;
      }
      context.fail(error, summary);
    }
  };
  void load();
  const reloadSoon = debounce(() => void load(), 300);
  return {
    element,
    title: `Command ${commandId}`,
    onChange: (change: Change) => {
      if (change.commandId === commandId) {
        reloadSoon();
      }
    },
    reload: () => void load(),
  };
}

function actionProblem(error: unknown): string {
  if (!(error instanceof ApiError)) {
    return String(error);
  }
  switch (error.status) {
    case 404:
      return `the platform does not know this command (${error.message})`;
    case 409:
      return `the platform refused (${error.message})`;
    case 501:
      return `not available with this platform configuration (${error.message})`;
    case 502:
      return `the platform answered with an error (${error.message})`;
    case 504:
      return `the platform did not answer in time; try again later (${error.message})`;
    default:
      return error.message;
  }
}

function renderSummary(command: CommandWithHistory): HTMLElement {
  const overdue = command.completedAt === null && Date.parse(command.deadline) < Date.now();
  const row = (term: string, ...value: (Node | string)[]) => [
    h('dt', {}, term),
    h('dd', {}, ...value),
  ];
  return h(
    'dl',
    { class: 'summary' },
    row('Status', statusBadge(command.status)),
    row('Device', link(deviceRoute(command.deviceId), command.deviceId)),
    row('Deadline', time(command.deadline), overdue ? ' (passed)' : ''),
    row('Created', time(command.createdAt, true)),
    row('Updated', time(command.updatedAt, true)),
    row('Sent', time(command.sentAt, true)),
    row('Delivered', time(command.deliveredAt, true)),
    row('Completed', time(command.completedAt, true)),
    row('Version', String(command.version)),
    row('Service / method', `${command.serviceId ?? '—'} / ${command.method ?? '—'}`),
    row('Result detail', detail(command.resultDetail)),
  );
}

// Characters of a result detail shown before "Show all".
const DETAIL_SHOWN = 300;

/**
 * A result detail: its compact JSON, wrapped, cut after DETAIL_SHOWN characters with a button
 * that shows all of it, indented.
 */
function detail(value: unknown): HTMLElement {
  const text = JSON.stringify(value) ?? 'null';
  if (text.length <= DETAIL_SHOWN) {
    return h('code', { class: 'detail' }, text);
  }
  const holder = h('div', { class: 'detail-long' });
  const button = h(
    'button',
    { type: 'button', class: 'show-all', 'aria-expanded': 'false' },
    `Show all (${text.length.toLocaleString('en')} characters)`,
  );
  button.addEventListener('click', () => {
    const full = h('pre', { class: 'detail', tabindex: 0 }, json(value));
    holder.replaceChildren(full);
    full.focus();
  });
  holder.append(h('code', { class: 'detail' }, `${text.slice(0, DETAIL_SHOWN)}…`), ' ', button);
  return holder;
}

function renderEntries(entries: HistoryEntry[]): HTMLElement {
  if (entries.length === 0) {
    return h('p', {}, 'No reports.');
  }
  return h(
    'ol',
    { class: 'timeline', id: 'timeline' },
    entries.map((entry) =>
      h(
        'li',
        { 'data-history-id': entry.id, 'data-outcome': entry.outcome },
        h(
          'div',
          { class: 'entry' },
          time(entry.receivedAt, true),
          statusBadge(entry.status),
          h('span', { class: `outcome outcome-${entry.outcome}` }, entry.outcome),
          h('span', { class: 'source' }, `from ${entry.source}`),
        ),
        h(
          'details',
          {},
          h('summary', {}, 'Raw payload'),
          h('pre', {}, json(entry.payload ?? null)),
          entry.resultDetail === null
            ? null
            : h('div', {}, 'Result detail: ', detail(entry.resultDetail)),
        ),
      ),
    ),
  );
}
