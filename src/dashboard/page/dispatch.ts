import { api, ApiError, type Change, type Dispatch, segment } from './api.js';
import { commandRoute, deviceRoute, h, heading, link, replaceKeepingFocus, time } from './dom.js';
import { debounce, type View, type ViewContext } from './view.js';

/** The states of a dispatch that may still send (GET /dispatches?state=). */
export const OPEN_DISPATCH_STATES = 'queued,sending';

export function dispatchRoute(dispatchId: string): string {
  return `/dispatch/${encodeURIComponent(dispatchId)}`;
}

export function campaignRoute(campaignId: string): string {
  return `/campaign/${encodeURIComponent(campaignId)}`;
}

export function dispatchStateBadge(state: string): HTMLElement {
  return h('span', { class: `dispatch-state dispatch-${state}` }, state);
}

/** A dispatch's facts and its attempts, each with its outcome and the platform's refusal. */
export function dispatchDetails(dispatch: Dispatch): HTMLElement {
  const row = (term: string, ...value: (Node | string)[]) => [
    h('dt', {}, term),
    h('dd', {}, ...value),
  ];
  return h(
    'div',
    { class: 'dispatch', 'data-dispatch-id': dispatch.dispatchId },
    h(
      'dl',
      { class: 'summary', id: 'dispatch-facts' },
      row('Dispatch', link(dispatchRoute(dispatch.dispatchId), dispatch.dispatchId)),
      row('State', dispatchStateBadge(dispatch.state)),
      row('Device', link(deviceRoute(dispatch.deviceId), dispatch.deviceId)),
      row('Service / method', `${dispatch.serviceId} / ${dispatch.method}`),
      row('Mode', dispatch.mode),
      row(
        'Command',
        dispatch.commandId === null
          ? 'none yet'
          : link(commandRoute(dispatch.commandId), dispatch.commandId),
      ),
      dispatch.campaignId === null
        ? []
        : row('Campaign', link(campaignRoute(dispatch.campaignId), dispatch.campaignId)),
      row('Created', time(dispatch.createdAt)),
      row('Not before', time(dispatch.notBefore)),
      row('Send by', time(dispatch.sendBy)),
      dispatch.state === 'queued' ? row('Next attempt', time(dispatch.nextAttemptAt)) : [],
    ),
    attemptsTable(dispatch),
  );
}

function attemptsTable(dispatch: Dispatch): HTMLElement {
  if (dispatch.attempts.length === 0) {
    return h('p', { id: 'dispatch-attempts' }, 'No attempt yet.');
  }
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { id: 'dispatch-attempts' },
      h('caption', {}, `Attempts (${dispatch.attempts.length}), oldest first`),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'At'),
          h('th', { scope: 'col' }, 'Outcome'),
          h('th', { scope: 'col' }, 'Platform said'),
        ),
      ),
      h(
        'tbody',
        {},
        dispatch.attempts.map((attempt) =>
          h(
            'tr',
            { 'data-outcome': attempt.outcome },
            h('td', {}, time(attempt.at, true)),
            h(
              'td',
              {},
              h('span', { class: `attempt attempt-${attempt.outcome}` }, attempt.outcome),
            ),
            h(
              'td',
              {},
              attempt.platformError === undefined || attempt.platformError === null
                ? '—'
                : `${String(attempt.platformError.code)}: ${String(attempt.platformError.message)}`,
            ),
          ),
        ),
      ),
    ),
  );
}

/** A list of dispatches (a device's open ones, newest first), each linking to its view. */
export function dispatchTable(id: string, caption: string, items: Dispatch[]): HTMLElement {
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
          ['Dispatch', 'State', 'Service / method', 'Next attempt', 'Attempts', 'Last outcome'].map(
            (text) => h('th', { scope: 'col' }, text),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        items.map((dispatch) =>
          h(
            'tr',
            { 'data-dispatch-id': dispatch.dispatchId },
            h('td', { class: 'id' }, link(dispatchRoute(dispatch.dispatchId), dispatch.dispatchId)),
            h('td', {}, dispatchStateBadge(dispatch.state)),
            h('td', {}, `${dispatch.serviceId} / ${dispatch.method}`),
            h('td', {}, dispatch.state === 'queued' ? time(dispatch.nextAttemptAt) : '—'),
            h('td', { class: 'num' }, dispatch.attempts.length),
            h('td', {}, dispatch.attempts.at(-1)?.outcome ?? '—'),
          ),
        ),
      ),
    ),
  );
}

/** One dispatch: found by its id, also while it has no command yet. */
export function dispatchView(context: ViewContext, dispatchId: string): View {
  const content = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  const element = h(
    'section',
    { 'aria-labelledby': 'dispatch-title' },
    heading('dispatch-title', 'Dispatch ', h('span', { class: 'id' }, dispatchId)),
    content,
  );
  let deviceId: string | undefined;
  let commandId: string | null = null;
  const load = async () => {
    try {
      const dispatch = await api<Dispatch>(`/dispatches/${segment(dispatchId)}`);
      context.read();
      deviceId = dispatch.deviceId;
      commandId = dispatch.commandId;
      replaceKeepingFocus(content, dispatchDetails(dispatch));
      content.setAttribute('aria-busy', 'false');
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        content.replaceChildren(h('p', { class: 'message error' }, `No dispatch ${dispatchId}.`));
        content.setAttribute('aria-busy', 'false');
        return;
      }
      context.fail(error, content);
    }
  };
  void load();
  // A dispatch changes without a command change (an attempt); its device's changes and a modest
  // poll while it is open keep it current.
  const reloadSoon = debounce(() => void load(), 1000);
  return {
    element,
    title: `Dispatch ${dispatchId}`,
    onChange: (change: Change) => {
      if (change.deviceId === deviceId || change.commandId === commandId) {
        reloadSoon();
      }
    },
    reload: () => void load(),
    poll: () => void load(),
  };
}
