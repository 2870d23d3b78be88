import { type Analytics, api, type CommandAnalytics } from './api.js';
import { durationText, h, heading, timeText, ZONE } from './dom.js';
import { DEFAULT_WINDOW_MINUTES, WINDOWS } from './overview.js';
import { type View, type ViewContext } from './view.js';

export function analyticsRoute(windowMinutes: number): string {
  return `/analytics?window=${windowMinutes}`;
}

/** A latency as on call reads it: 850 ms, 4.2 s, 12 min. */
function latencyText(ms: number | null): string {
  if (ms === null) {
    return '—';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  if (ms < 60_000) {
    return `${(ms / 1000).toFixed(1)} s`;
  }
  return durationText(ms);
}

const PHASES = [
  { key: 'toSent', label: 'to SENT' },
  { key: 'toDelivered', label: 'to DELIVERED' },
  { key: 'toFinal', label: 'to final' },
] as const;
const CUTS = ['p50', 'p90', 'p99'] as const;

function row(name: string, figures: CommandAnalytics, overall: boolean): HTMLTableRowElement {
  return h(
    'tr',
    { class: overall ? 'overall' : '', 'data-command': name },
    h('th', { scope: 'row' }, name),
    h('td', { class: 'num' }, figures.commands),
    h(
      'td',
      { class: 'num' },
      figures.successPercent === null ? '—' : `${Math.round(figures.successPercent * 10) / 10}%`,
    ),
    PHASES.flatMap((phase) =>
      CUTS.map((cut) => h('td', { class: 'num' }, latencyText(figures.latencyMs[phase.key][cut]))),
    ),
  );
}

function table(analytics: Analytics, windowLabel: string): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { id: 'analytics-table' },
      h(
        'caption',
        {},
        `Success rate (SUCCESSFUL among final commands) and time from creation to each status, by command, for commands created in the window (${windowLabel.toLowerCase()})`,
      ),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col', rowspan: 2 }, 'Command (service / method)'),
          h('th', { scope: 'col', rowspan: 2, class: 'num' }, 'Commands'),
          h('th', { scope: 'col', rowspan: 2, class: 'num' }, 'Success'),
          PHASES.map((phase) => h('th', { scope: 'colgroup', colspan: 3 }, phase.label)),
        ),
        h(
          'tr',
          {},
          PHASES.flatMap((phase) =>
            CUTS.map((cut) =>
              h('th', { scope: 'col', class: 'num', 'aria-label': `${phase.label} ${cut}` }, cut),
            ),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        row('All commands', analytics, true),
        analytics.byCommand.map((group) =>
          row(`${group.serviceId ?? '—'} / ${group.method ?? '—'}`, group, false),
        ),
      ),
    ),
  );
}

/** Success rate and latency percentiles by command, over the page's time window. */
export function analyticsView(context: ViewContext, query: URLSearchParams): View {
  const chosen = Number(query.get('window') ?? DEFAULT_WINDOW_MINUTES);
  const windowMinutes = WINDOWS.some((w) => w.minutes === chosen) ? chosen : DEFAULT_WINDOW_MINUTES;
  const windowLabel = WINDOWS.find((w) => w.minutes === windowMinutes)?.label ?? '';
  const content = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  const select = h(
    'select',
    { id: 'analytics-window' },
    WINDOWS.map((w) =>
      h('option', { value: w.minutes, selected: w.minutes === windowMinutes }, w.label),
    ),
  );
  // As on the overview: the window changes when submitted, not while moving through the options.
  const form = h(
    'form',
    {
      class: 'controls',
      'aria-label': 'Time window',
      onsubmit: (event: Event) => {
        event.preventDefault();
        location.hash = analyticsRoute(Number(select.value));
      },
    },
    h('label', { for: 'analytics-window' }, 'Window '),
    select,
    ' ',
    h('button', { type: 'submit' }, 'Show'),
  );
  const element = h(
    'section',
    { 'aria-labelledby': 'analytics-title' },
    heading('analytics-title', 'Analytics'),
    form,
    content,
  );
  const load = async () => {
    try {
      const since = new Date(Date.now() - windowMinutes * 60_000).toISOString();
      const analytics = await api<Analytics>(
        `/analytics/commands?since=${encodeURIComponent(since)}`,
      );
      context.read();
      content.replaceChildren(
        h(
          'p',
          { class: 'note' },
          `Commands created since ${timeText(since)}; times in ${ZONE}. Percentiles of the time from creation to SENT, DELIVERED and a final status, among the commands that reached it.`,
        ),
        analytics.commands === 0
          ? h('p', { id: 'analytics-empty' }, 'No command was created in the window.')
          : table(analytics, windowLabel),
      );
      content.setAttribute('aria-busy', 'false');
    } catch (error) {
      context.fail(error, content);
    }
  };
  void load();
  return {
    element,
    title: 'Analytics',
    // Percentiles over a window move slowly, and cost a pass over it: read on demand only.
    onChange: () => undefined,
    reload: () => void load(),
  };
}
