import {
  api,
  ApiError,
  type Campaign,
  type Command,
  KeyRequired,
  type Page,
  segment,
} from './api.js';
import { campaignRoute } from './dispatch.js';
import { h, heading, link, listRoute, replaceKeepingFocus, svg, time } from './dom.js';
import { statusNames } from './statuses.js';
import { commandTable } from './table.js';
import { debounce, type View, type ViewContext } from './view.js';

const LIST_SIZE = 25;
const FAILED_SHOWN = 10;

/**
 * Where a campaign's dispatches are, in the bar's order: waiting to be sent, sent (by their
 * command's status), then closed without a command.
 */
function segments(campaign: Campaign): { key: string; label: string; count: number }[] {
  const dispatch = (state: string) => ({
    key: `dispatch-${state}`,
    label: `dispatch ${state}`,
    count: campaign.dispatches[state] ?? 0,
  });
  return [
    dispatch('queued'),
    dispatch('sending'),
    ...statusNames().map((status) => ({
      key: `command-${status.toLowerCase()}`,
      label: `command ${status}`,
      count: campaign.commands[status] ?? 0,
    })),
    dispatch('failed'),
    dispatch('expired'),
    dispatch('canceled'),
    dispatch('superseded'),
  ];
}

function finishedOf(campaign: Campaign): number {
  const c = campaign.commands;
  const d = campaign.dispatches;
  return (
    (c.SUCCESSFUL ?? 0) +
    (c.FAILED ?? 0) +
    (c.TIMEOUT ?? 0) +
    (c.EXPIRED ?? 0) +
    (c.CANCELED ?? 0) +
    (d.failed ?? 0) +
    (d.expired ?? 0) +
    (d.canceled ?? 0) +
    (d.superseded ?? 0)
  );
}

/** A stacked bar of the campaign's dispatches by state, with its figures in a table under it. */
function progress(campaign: Campaign): HTMLElement {
  const parts = segments(campaign).filter((part) => part.count > 0);
  const total = parts.reduce((sum, part) => sum + part.count, 0);
  const width = 1000;
  let x = 0;
  const bar = svg(
    'svg',
    {
      class: 'progress',
      id: 'campaign-progress',
      viewBox: `0 0 ${width} 28`,
      preserveAspectRatio: 'none',
      role: 'img',
      'aria-label': `${finishedOf(campaign)} of ${total} dispatches finished`,
    },
    svg('rect', { x: 0, y: 0, width, height: 28, class: 'progress-back' }),
  );
  for (const part of parts) {
    const w = (part.count / total) * width;
    bar.append(
      svg(
        'rect',
        { x, y: 0, width: w, height: 28, class: `seg seg-${part.key}` },
        svg('title', {}, `${part.label}: ${part.count}`),
      ),
    );
    x += w;
  }
  return h(
    'figure',
    {},
    bar,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { id: 'campaign-states' },
        h('caption', {}, 'Dispatches by state (sent ones by their command’s status)'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'State'),
            h('th', { scope: 'col', class: 'num' }, 'Dispatches'),
          ),
        ),
        h(
          'tbody',
          {},
          parts.map((part) =>
            h(
              'tr',
              { 'data-segment': part.key },
              h('th', { scope: 'row' }, h('span', { class: `swatch seg-${part.key}` }), part.label),
              h('td', { class: 'num' }, part.count),
            ),
          ),
        ),
      ),
    ),
  );
}

function campaignTable(items: Campaign[]): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { id: 'campaign-list' },
      h('caption', { class: 'visually-hidden' }, 'Campaigns, newest first'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Campaign', 'State', 'Command', 'Devices', 'Finished', 'Created'].map((text) =>
            h(
              'th',
              { scope: 'col', class: text === 'Devices' || text === 'Finished' ? 'num' : '' },
              text,
            ),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        items.map((campaign) =>
          h(
            'tr',
            { 'data-campaign-id': campaign.campaignId },
            h('td', {}, link(campaignRoute(campaign.campaignId), campaign.name)),
            h('td', {}, h('span', { class: 'campaign-state' }, campaign.state)),
            h('td', {}, `${campaign.command.serviceId ?? '—'} / ${campaign.command.method ?? '—'}`),
            h('td', { class: 'num' }, campaign.devices),
            h('td', { class: 'num' }, finishedOf(campaign)),
            h('td', {}, time(campaign.createdAt)),
          ),
        ),
      ),
    ),
  );
}

/** The campaigns, newest first, refreshed while the view shows. */
export function campaignsView(context: ViewContext): View {
  const results = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  const element = h(
    'section',
    { 'aria-labelledby': 'campaigns-title' },
    heading('campaigns-title', 'Campaigns'),
    h('p', { class: 'note' }, 'One command sent to many devices (POST /campaigns), newest first.'),
    results,
  );
  const load = async () => {
    try {
      const page = await api<Page<Campaign>>(`/campaigns?limit=${LIST_SIZE}`);
      context.read();
      replaceKeepingFocus(
        results,
        page.items.length === 0 ? h('p', {}, 'No campaigns.') : campaignTable(page.items),
      );
      results.setAttribute('aria-busy', 'false');
    } catch (error) {
      context.fail(error, results);
    }
  };
  void load();
  return {
    element,
    title: 'Campaigns',
    onChange: () => undefined,
    reload: () => void load(),
    poll: () => void load(),
  };
}

const ACTIONS = [
  { verb: 'pause', label: 'Pause', allowed: ['scheduled', 'running'] },
  { verb: 'resume', label: 'Resume', allowed: ['paused'] },
  { verb: 'cancel', label: 'Cancel campaign', allowed: ['scheduled', 'running', 'paused'] },
  {
    verb: 'retry-failed',
    label: 'Retry failed',
    allowed: ['scheduled', 'running', 'paused', 'completed', 'aborted'],
  },
] as const;

/** One campaign: its progress by state, its failures, and the buttons that steer it. */
export function campaignView(context: ViewContext, campaignId: string): View {
  const path = `/campaigns/${segment(campaignId)}`;
  const facts = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  const summary = h('p', { id: 'campaign-summary', role: 'status' });
  const bar = h('div', { id: 'campaign-progress-part' });
  const failures = h('div', { id: 'campaign-failures' });
  const message = h('p', { id: 'campaign-message', role: 'status', class: 'message' });
  const buttons = ACTIONS.map((action) => {
    const button = h(
      'button',
      { type: 'button', id: `campaign-${action.verb}`, disabled: true },
      action.label,
    );
    button.addEventListener('click', () => {
      if (
        action.verb === 'cancel' &&
        !window.confirm(
          `Cancel campaign ${campaignId}? Its queued dispatches are canceled and none is released any more.`,
        )
      ) {
        return;
      }
      button.disabled = true;
      message.className = 'message';
      message.textContent = `${action.label}…`;
      api<Campaign>(`${path}/${action.verb}`, 'POST')
        .then((campaign) => {
          message.textContent = `${action.label}: done; the campaign is ${campaign.state}.`;
          show(campaign);
        })
        .catch((error: unknown) => {
          if (error instanceof KeyRequired) {
            context.fail(error, message);
            return;
          }
          message.className = 'message error';
          message.textContent = `${action.label} failed: ${error instanceof Error ? error.message : String(error)}`;
          void load();
        });
    });
    return { action, button };
  });
  const element = h(
    'section',
    { 'aria-labelledby': 'campaign-title' },
    heading('campaign-title', 'Campaign ', h('span', { class: 'id' }, campaignId)),
    facts,
    h(
      'div',
      { class: 'actions' },
      buttons.map((b) => b.button),
    ),
    message,
    h('h3', {}, 'Progress'),
    summary,
    bar,
    h('h3', {}, 'Failures'),
    failures,
  );

  const show = (campaign: Campaign) => {
    const row = (term: string, ...value: (Node | string)[]) => [
      h('dt', {}, term),
      h('dd', {}, ...value),
    ];
    replaceKeepingFocus(
      facts,
      h(
        'dl',
        { class: 'summary', id: 'campaign-facts' },
        row('Name', campaign.name),
        row('State', h('span', { class: 'campaign-state', id: 'campaign-state' }, campaign.state)),
        campaign.abortReason === null ? [] : row('Aborted because', campaign.abortReason),
        row('Command', `${campaign.command.serviceId ?? '—'} / ${campaign.command.method ?? '—'}`),
        row('Devices', String(campaign.devices)),
        row('Rate', `${campaign.ratePerMinute} a minute`),
        row('Created', time(campaign.createdAt)),
        campaign.startAt === null ? [] : row('Starts', time(campaign.startAt)),
        campaign.endAt === null ? [] : row('Ends', time(campaign.endAt)),
      ),
    );
    facts.setAttribute('aria-busy', 'false');
    for (const { action, button } of buttons) {
      button.disabled = !(action.allowed as readonly string[]).includes(campaign.state);
    }
    const total = segments(campaign).reduce((sum, part) => sum + part.count, 0);
    // A short line, the one live region here: the bar and its table are not re-read.
    const text = `${finishedOf(campaign)} of ${total} dispatches finished; ${campaign.commands.SUCCESSFUL ?? 0} successful; the campaign is ${campaign.state}.`;
    if (summary.textContent !== text) {
      summary.textContent = text;
    }
    bar.replaceChildren(progress(campaign));
  };

  const showFailures = async (campaign: Campaign) => {
    const failed = await api<Page<Command>>(
      `/commands?campaignId=${encodeURIComponent(campaignId)}&status=FAILED&limit=${FAILED_SHOWN}`,
    );
    const c = campaign.commands;
    const d = campaign.dispatches;
    replaceKeepingFocus(
      failures,
      h(
        'p',
        { id: 'campaign-failure-counts' },
        `${c.FAILED ?? 0} FAILED, ${c.TIMEOUT ?? 0} TIMEOUT; ${d.failed ?? 0} dispatches failed and ${d.expired ?? 0} expired before sending. `,
        link(listRoute({ campaignId, status: 'FAILED' }), 'All its FAILED commands'),
      ),
      ...(failed.items.length === 0
        ? []
        : [
            commandTable(
              'campaign-failed',
              'Failed commands of the campaign, newest first',
              failed.items,
              ['command', 'device', 'status', 'updated'],
            ),
          ]),
    );
  };

  const load = async () => {
    try {
      const campaign = await api<Campaign>(path);
      context.read();
      show(campaign);
      await showFailures(campaign);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        facts.replaceChildren(h('p', { class: 'message error' }, `No campaign ${campaignId}.`));
        facts.setAttribute('aria-busy', 'false');
        return;
      }
      context.fail(error, facts);
    }
  };
  void load();
  const reloadSoon = debounce(() => void load(), 2000);
  return {
    element,
    title: `Campaign ${campaignId}`,
    // Changes do not say which campaign: any change reads the campaign again, at most every 2 s.
    onChange: reloadSoon,
    reload: () => void load(),
    poll: () => void load(),
  };
}
