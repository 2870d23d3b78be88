import { api, type MinuteBar, OUTCOMES, type Overview } from './api.js';
import {
  commandRoute,
  deviceRoute,
  h,
  heading,
  link,
  listRoute,
  statusBadge,
  svg,
  time,
  timeText,
  ZONE,
} from './dom.js';
import { topFailing } from './failing.js';
import { openStatuses, statusNames } from './statuses.js';
import { DEFAULT_SILENT_MINUTES, stuckRoute } from './stuck.js';
import { debounce, type View, type ViewContext } from './view.js';

export const WINDOWS = [
  { label: 'Last 15 minutes', minutes: 15 },
  { label: 'Last hour', minutes: 60 },
  { label: 'Last 24 hours', minutes: 24 * 60 },
  { label: 'Last 7 days', minutes: 7 * 24 * 60 },
  { label: 'Last 30 days', minutes: 30 * 24 * 60 },
];
export const DEFAULT_WINDOW_MINUTES = 24 * 60;

const CHART = { width: 640, height: 220, left: 40, bottom: 24, top: 8 };

/** Counts by status, reports per minute by outcome, the oldest open commands. */
export function overviewView(context: ViewContext, query: URLSearchParams): View {
  const chosen = Number(query.get('window') ?? DEFAULT_WINDOW_MINUTES);
  const windowMinutes = WINDOWS.some((w) => w.minutes === chosen) ? chosen : DEFAULT_WINDOW_MINUTES;
  const content = h('div', { 'aria-busy': 'true' }, h('p', {}, 'Loading…'));
  const select = h(
    'select',
    { id: 'window' },
    WINDOWS.map((w) =>
      h('option', { value: w.minutes, selected: w.minutes === windowMinutes }, w.label),
    ),
  );
  // The window changes on an explicit action only: moving through the options with the keyboard
  // must not reload the view at each step.
  const windowForm = h(
    'form',
    {
      class: 'controls',
      'aria-label': 'Time window',
      onsubmit: (event: Event) => {
        event.preventDefault();
        location.hash = `/?window=${select.value}`;
      },
    },
    h('label', { for: 'window' }, 'Window '),
    select,
    ' ',
    h('button', { type: 'submit' }, 'Show'),
  );
  const element = h(
    'section',
    { 'aria-labelledby': 'overview-title' },
    heading('overview-title', 'Overview'),
    windowForm,
    h('p', {}, link(`/analytics?window=${windowMinutes}`, 'Success rate and latency, this window')),
    content,
  );

  const load = async () => {
    try {
      const since = new Date(Date.now() - windowMinutes * 60_000).toISOString();
      const windowLabel = WINDOWS.find((w) => w.minutes === windowMinutes)?.label ?? '';
      // Asked first: the failing counts follow the first figures rather than hold them up (the
      // embedded database answers one query at a time).
      const overviewRead = api<Overview>(
        `/dashboard/api/overview?since=${encodeURIComponent(since)}`,
      );
      const failingPart = h('div', { 'aria-busy': 'true' });
      const failing = topFailing(since, windowLabel).then(
        (part) => failingPart.replaceChildren(part),
        (error: unknown) => context.fail(error, failingPart),
      );
      const overview = await overviewRead;
      context.read();
      content.replaceChildren(
        ...render(overview, windowMinutes),
        h('h3', {}, 'Failing most, in the window'),
        failingPart,
      );
      void failing.finally(() => failingPart.setAttribute('aria-busy', 'false'));
      content.setAttribute('aria-busy', 'false');
    } catch (error) {
      context.fail(error, content);
    }
  };
  void load();
  const reloadSoon = debounce(() => void load(), 1000);
  return { element, title: 'Overview', onChange: reloadSoon, reload: () => void load() };
}

/** A count that opens the list behind it; the label says what is counted. */
function countLink(route: string, count: number, what: string): HTMLAnchorElement {
  const anchor = link(route, count);
  anchor.setAttribute('aria-label', `${count} commands ${what}: list them`);
  return anchor;
}

function render(overview: Overview, windowMinutes: number): HTMLElement[] {
  const windowLabel = WINDOWS.find((w) => w.minutes === windowMinutes)?.label ?? '';
  const sum = (counts: Record<string, number>) =>
    Object.values(counts).reduce((total, count) => total + count, 0);
  const since = overview.window.since;
  const counts = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { id: 'status-counts' },
      h(
        'caption',
        {},
        `Commands by status: all, and created in the window (${windowLabel.toLowerCase()})`,
      ),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Status'),
          h('th', { scope: 'col', class: 'num' }, 'All'),
          h('th', { scope: 'col', class: 'num' }, 'In the window'),
        ),
      ),
      h(
        'tbody',
        {},
        statusNames().map((status) =>
          h(
            'tr',
            { 'data-status': status },
            h(
              'th',
              { scope: 'row' },
              statusBadge(status),
              openStatuses().includes(status)
                ? [' ', link(stuckRoute(DEFAULT_SILENT_MINUTES, status), 'stuck?')]
                : null,
            ),
            h(
              'td',
              { class: 'num' },
              countLink(listRoute({ status }), overview.statusCounts[status], `${status}, all`),
            ),
            h(
              'td',
              { class: 'num' },
              countLink(
                listRoute({ status, since }),
                overview.window.statusCounts[status],
                `${status}, created in the window`,
              ),
            ),
          ),
        ),
      ),
      h(
        'tfoot',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, 'Total'),
          h('td', { class: 'num' }, sum(overview.statusCounts)),
          h('td', { class: 'num' }, sum(overview.window.statusCounts)),
        ),
      ),
    ),
  );

  const oldest =
    overview.oldestOpen.length === 0
      ? h('p', {}, 'No command is waiting for an answer.')
      : h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { id: 'oldest-open' },
            h('caption', {}, 'Oldest commands still waiting (PENDING, SENT, DELIVERED)'),
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ['Command', 'Device', 'Status', 'Created', 'Deadline'].map((name) =>
                  h('th', { scope: 'col' }, name),
                ),
              ),
            ),
            h(
              'tbody',
              {},
              overview.oldestOpen.map((command) =>
                h(
                  'tr',
                  {},
                  h(
                    'td',
                    { class: 'id' },
                    link(commandRoute(command.commandId), command.commandId),
                  ),
                  h('td', { class: 'id' }, link(deviceRoute(command.deviceId), command.deviceId)),
                  h('td', {}, statusBadge(command.status)),
                  h('td', {}, time(command.createdAt)),
                  h(
                    'td',
                    { class: Date.parse(command.deadline) < Date.now() ? 'overdue' : '' },
                    time(command.deadline),
                  ),
                ),
              ),
            ),
          ),
        );

  return [
    counts,
    h(
      'p',
      {},
      link(stuckRoute(), 'Stuck commands'),
      `: open commands silent for more than ${DEFAULT_SILENT_MINUTES} min, longest first.`,
    ),
    h('h3', {}, `Reports per minute, last hour (${ZONE})`),
    chart(overview.reportsPerMinute.minutes),
    h(
      'p',
      { class: 'note' },
      'Applied, duplicate, stale and conflict count stored reports of every instance. ',
      'Ignored counts the IoTDA pushes for other resources that this instance answered since ',
      timeText(overview.reportsPerMinute.ignoredCountedSince),
      ' (they are not stored, so other instances’ are not included).',
    ),
    h('h3', {}, 'Oldest open commands (by creation)'),
    oldest,
  ];
}

function chart(minutes: MinuteBar[]): HTMLElement {
  const { width, height, left, bottom, top } = CHART;
  const plotHeight = height - bottom - top;
  const barWidth = (width - left) / minutes.length;
  const totals = minutes.map((bar) => OUTCOMES.reduce((sum, outcome) => sum + bar[outcome], 0));
  const max = Math.max(1, ...totals);
  const bars = minutes.map((bar, index) => {
    let y = top + plotHeight;
    const x = left + index * barWidth;
    const parts = OUTCOMES.filter((outcome) => bar[outcome] > 0).map((outcome) => {
      const barHeight = (bar[outcome] / max) * plotHeight;
      y -= barHeight;
      return svg('rect', {
        x: x + 1,
        y,
        width: Math.max(1, barWidth - 2),
        height: barHeight,
        class: `bar-${outcome}`,
      });
    });
    const label = `${timeText(bar.minute).slice(11, 16)}: ${OUTCOMES.map((o) => `${bar[o]} ${o}`).join(', ')}`;
    return svg('g', {}, svg('title', {}, label), ...parts);
  });
  const ticks = minutes.flatMap((bar, index) =>
    index % 10 === 0
      ? [
          svg(
            'text',
            { x: left + index * barWidth, y: height - 6, class: 'tick' },
            timeText(bar.minute).slice(11, 16),
          ),
        ]
      : [],
  );
  const figure = svg(
    'svg',
    {
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-labelledby': 'chart-title',
      class: 'chart',
    },
    svg('title', { id: 'chart-title' }, `Reports per minute by outcome; highest minute ${max}`),
    svg('line', { x1: left, x2: width, y1: top + plotHeight, y2: top + plotHeight, class: 'axis' }),
    svg('text', { x: 4, y: top + 10, class: 'tick' }, max),
    svg('text', { x: 4, y: top + plotHeight, class: 'tick' }, 0),
    ...ticks,
    ...bars,
  );
  const legend = h(
    'ul',
    { class: 'legend' },
    OUTCOMES.map((outcome) =>
      h(
        'li',
        {},
        h('span', { class: `swatch bar-${outcome}`, 'aria-hidden': 'true' }),
        `${outcome} (${minutes.reduce((sum, bar) => sum + bar[outcome], 0)})`,
      ),
    ),
  );
  const table = h(
    'details',
    {},
    h('summary', {}, 'The figures as a table'),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { id: 'reports-per-minute' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, `Minute (${ZONE})`),
            OUTCOMES.map((o) => h('th', { scope: 'col', class: 'num' }, o)),
          ),
        ),
        h(
          'tbody',
          {},
          minutes
            .filter((_, index) => totals[index] > 0)
            .map((bar) =>
              h(
                'tr',
                {},
                h('th', { scope: 'row' }, timeText(bar.minute).slice(11, 16)),
                OUTCOMES.map((o) => h('td', { class: 'num' }, bar[o])),
              ),
            ),
        ),
      ),
    ),
  );
  return h('figure', { id: 'reports-chart' }, figure, legend, table);
}
