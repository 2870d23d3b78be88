import {
  api,
  ApiError,
  type Change,
  KeyRequired,
  type Settings,
  storedKey,
  storeKey,
} from './api.js';
import { analyticsView } from './analytics.js';
import { campaignsView, campaignView } from './campaigns.js';
import { commandsView } from './commands.js';
import { deviceView } from './device.js';
import { dispatchView } from './dispatch.js';
import { h, heading, listRoute, relativeText, timeText } from './dom.js';
import { LiveFeed, type LiveState } from './live.js';
import { overviewView } from './overview.js';
import { loadStatuses } from './statuses.js';
import { stuckView } from './stuck.js';
import { timelineView } from './timeline.js';
import { type View, type ViewContext } from './view.js';

const main = document.getElementById('main') as HTMLElement;
const liveBadge = document.getElementById('live') as HTMLElement;
const forgetKey = document.getElementById('forget-key') as HTMLButtonElement;
const searchForm = document.getElementById('search') as HTMLFormElement;
const searchInput = document.getElementById('search-input') as HTMLInputElement;
const readAt = document.getElementById('read-at') as HTMLElement;
const skipLink = document.getElementById('skip-link') as HTMLAnchorElement;

let current: View | undefined;
let settings: Settings | undefined;
let liveState: LiveState = 'off';
let lastRead: string | undefined;

const LIVE_TEXT: Record<LiveState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  off: 'Not live',
};

const live = new LiveFeed(
  (change: Change) => current?.onChange(change),
  (state) => {
    liveBadge.textContent = LIVE_TEXT[state];
    liveBadge.dataset.state = state;
    liveState = state;
    showReadAt();
  },
  () => current?.reload(),
);

const context: ViewContext = {
  get settings(): Settings {
    return settings ?? { platform: null, reconcile: false, cancel: false };
  },
  fail(error: unknown, where: HTMLElement) {
    if (error instanceof KeyRequired) {
      askForKey(error.rejected);
      return;
    }
    const text = error instanceof ApiError ? error.message : `Unexpected error: ${String(error)}`;
    where.replaceChildren(h('p', { class: 'message error', role: 'alert' }, text));
    where.setAttribute('aria-busy', 'false');
  },
  read() {
    lastRead = new Date().toISOString();
    showReadAt();
  },
};

/**
 * When the view last read its data. While the stream is down the data may be out of date: the
 * text says so and the element is marked stale. Not a live region: it changes with every read.
 */
function showReadAt(): void {
  if (lastRead === undefined) {
    readAt.textContent = '';
    return;
  }
  const stale = liveState !== 'live';
  readAt.dataset.stale = String(stale);
  readAt.textContent = `Data read ${timeText(lastRead)} (${relativeText(lastRead)})${
    stale ? ': not live, may be out of date' : ''
  }`;
}
window.setInterval(showReadAt, 15_000);

// Dispatches and campaigns move without a command changing (an attempt, a release): the views
// that show them read again every few seconds while they show.
const POLL_MS = 5000;
window.setInterval(() => {
  if (!document.hidden) {
    current?.poll?.();
  }
}, POLL_MS);

function notFoundView(path: string): View {
  return {
    element: h(
      'section',
      { 'aria-labelledby': 'not-found-title' },
      heading('not-found-title', 'Page not found'),
      h('p', {}, `The page has no view at ${path}. `, h('a', { href: '#/' }, 'Go to the overview')),
    ),
    title: 'Page not found',
    onChange: () => undefined,
    reload: () => undefined,
  };
}

function route(): View {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, queryText] = hash.split('?', 2) as [string, string | undefined];
  const query = new URLSearchParams(queryText ?? '');
  if (path.startsWith('/command/')) {
    return timelineView(context, decodeURIComponent(path.slice('/command/'.length)));
  }
  if (path.startsWith('/device/')) {
    return deviceView(context, decodeURIComponent(path.slice('/device/'.length)));
  }
  if (path.startsWith('/dispatch/')) {
    return dispatchView(context, decodeURIComponent(path.slice('/dispatch/'.length)));
  }
  if (path.startsWith('/campaign/')) {
    return campaignView(context, decodeURIComponent(path.slice('/campaign/'.length)));
  }
  if (path === '/campaigns') {
    return campaignsView(context);
  }
  if (path === '/analytics') {
    return analyticsView(context, query);
  }
  if (path === '/commands') {
    return commandsView(context, query);
  }
  if (path === '/stuck') {
    return stuckView(context, query);
  }
  if (path === '/') {
    return overviewView(context, query);
  }
  return notFoundView(path);
}

// The tab each route belongs to; none for a route the page does not know.
function activeTab(path: string): string | undefined {
  if (path === '/') {
    return '#/';
  }
  if (
    path === '/commands' ||
    path.startsWith('/command/') ||
    path.startsWith('/device/') ||
    path.startsWith('/dispatch/')
  ) {
    return '#/commands';
  }
  if (path === '/campaigns' || path.startsWith('/campaign/')) {
    return '#/campaigns';
  }
  if (path === '/analytics') {
    return '#/analytics';
  }
  return path === '/stuck' ? '#/stuck' : undefined;
}

function render(navigated = false): void {
  if (settings === undefined) {
    return;
  }
  lastRead = undefined;
  showReadAt();
  current = route();
  main.replaceChildren(current.element);
  document.title = `${current.title} · command-tracker`;
  if (navigated) {
    // Screen readers and keyboards start at the new view, which says where they are.
    current.element.querySelector<HTMLElement>('h2')?.focus();
  }
  const active = activeTab((location.hash.replace(/^#/, '') || '/').split('?', 1)[0]);
  for (const tab of document.querySelectorAll<HTMLAnchorElement>('nav.tabs a')) {
    if (tab.getAttribute('href') === active) {
      tab.setAttribute('aria-current', 'page');
    } else {
      tab.removeAttribute('aria-current');
    }
  }
}

/** The service wants a key: a form instead of the views until one is accepted. */
function askForKey(rejected: boolean): void {
  storeKey(null);
  settings = undefined;
  current = undefined;
  live.stop();
  forgetKey.hidden = true;
  const input = h('input', {
    id: 'api-key',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    'aria-describedby': 'key-help',
  });
  const form = h(
    'form',
    {
      id: 'key-form',
      onsubmit: (event: Event) => {
        event.preventDefault();
        storeKey(input.value.trim());
        void start();
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'api-key' }, 'API key'), input),
    h('button', { type: 'submit' }, 'Use this key'),
  );
  main.replaceChildren(
    h(
      'section',
      { 'aria-labelledby': 'key-title', class: 'key-prompt' },
      h('h2', { id: 'key-title' }, 'An API key is needed'),
      rejected
        ? h(
            'p',
            { class: 'message error', role: 'alert' },
            'That key was not accepted. Check it and try again.',
          )
        : null,
      h(
        'p',
        { id: 'key-help' },
        'This service requires one of the keys in its API_KEYS setting. The key is kept for this browser tab only (session storage) and sent with each request; close the tab or choose “Forget key” to drop it.',
      ),
      h(
        'p',
        {},
        'No key? Ask whoever runs the service for one; an operator adds keys to API_KEYS (comma-separated) and restarts the service.',
      ),
      form,
    ),
  );
  input.focus();
}

async function start(): Promise<void> {
  try {
    const [read] = await Promise.all([api<Settings>('/dashboard/api/settings'), loadStatuses()]);
    settings = read;
  } catch (error) {
    if (error instanceof KeyRequired) {
      askForKey(error.rejected);
    } else {
      context.fail(error, main);
    }
    return;
  }
  forgetKey.hidden = storedKey() === null;
  live.start();
  render();
}

window.addEventListener('hashchange', () => render(true));
skipLink.addEventListener('click', (event) => {
  // The page's routes live in the hash: the link moves focus without navigating.
  event.preventDefault();
  main.focus();
});
searchForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const q = searchInput.value.trim();
  if (q !== '') {
    location.hash = listRoute({ q });
  }
});
forgetKey.addEventListener('click', () => {
  askForKey(false);
});
void start();
