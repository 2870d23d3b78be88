// A small element builder: the page is a handful of views, not worth a framework.

type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value === 'function') {
      element.addEventListener(name.replace(/^on/, ''), value);
    } else if (value === true) {
      element.setAttribute(name, '');
    } else if (value !== false && value !== null && value !== undefined) {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const SVG = 'http://www.w3.org/2000/svg';

export function svg(
  tag: string,
  attributes: Record<string, string | number>,
  ...children: Child[]
): SVGElement {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

/** The one zone the page shows and takes times in, named wherever a time is. */
export const ZONE = 'UTC';

/** 2026-12-01 14:03:32 UTC (with .123 on request): everyone on call reads the same time. */
export function timeText(iso: string | null, withMs = false): string {
  if (iso === null) {
    return '—';
  }
  const text = iso.replace('T', ' ').replace(/Z$/, '');
  return `${withMs ? text : text.replace(/\.\d{3}$/, '')} ${ZONE}`;
}

/** A duration as people say it: 45 s, 12 min, 3 h 5 min, 2 d 4 h. */
export function durationText(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) {
    return `${seconds} s`;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes} min`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  }
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days} d` : `${days} d ${hours % 24} h`;
}

/** "12 min ago", or "in 5 min" for a time still ahead. */
export function relativeText(iso: string, now = Date.now()): string {
  const ms = now - Date.parse(iso);
  return ms >= 0 ? `${durationText(ms)} ago` : `in ${durationText(-ms)}`;
}

/** An absolute time in the page's zone with its relative age beside it. */
export function time(iso: string | null, withMs = false): HTMLElement {
  if (iso === null) {
    return h('span', {}, '—');
  }
  return h(
    'span',
    { class: 'when' },
    h('time', { datetime: iso }, timeText(iso, withMs)),
    ' ',
    h('span', { class: 'ago' }, `(${relativeText(iso)})`),
  );
}

/** `datetime-local` text, read in the page's zone (UTC), to an ISO instant, and back. */
export function inputToInstant(local: string): string | undefined {
  const date = new Date(`${local}Z`);
  return local === '' || Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

export function instantToInput(iso: string | null): string {
  const date = iso === null ? undefined : new Date(iso);
  return date === undefined || Number.isNaN(date.getTime()) ? '' : date.toISOString().slice(0, 16);
}

export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `status status-${status.toLowerCase()}` }, status);
}

/** A link inside the page (hash routes). */
export function link(route: string, ...children: Child[]): HTMLAnchorElement {
  return h('a', { href: `#${route}` }, ...children);
}

export function commandRoute(commandId: string): string {
  return `/command/${encodeURIComponent(commandId)}`;
}

export function deviceRoute(deviceId: string): string {
  return `/device/${encodeURIComponent(deviceId)}`;
}

/** A view's heading: focus moves to it on navigation, so it takes focus from script only. */
export function heading(id: string, ...children: Child[]): HTMLHeadingElement {
  return h('h2', { id, tabindex: -1 }, ...children);
}

export function listRoute(filters: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) {
    if (value !== undefined && value !== '') {
      query.set(name, value);
    }
  }
  const text = query.toString();
  return text === '' ? '/commands' : `/commands?${text}`;
}

/**
 * Replaces a container's content and keeps the keyboard where it was: a view that reads again
 * on its own (a poll, a live change) must not throw the focus back to the page's start.
 */
export function replaceKeepingFocus(container: HTMLElement, ...nodes: (Node | string)[]): void {
  const active = document.activeElement;
  let selector: string | undefined;
  if (active instanceof HTMLElement && container.contains(active)) {
    const href = active.getAttribute('href');
    if (active.id !== '') {
      selector = `#${CSS.escape(active.id)}`;
    } else if (href !== null) {
      selector = `a[href="${CSS.escape(href)}"]`;
    }
  }
  container.replaceChildren(...nodes);
  if (selector !== undefined) {
    container.querySelector<HTMLElement>(selector)?.focus();
  }
}
