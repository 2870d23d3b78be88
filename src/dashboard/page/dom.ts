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

/** 2026-12-01 14:03:32.123Z: UTC, so that everyone on call reads the same time. */
export function timeText(iso: string | null, withMs = false): string {
  if (iso === null) {
    return '—';
  }
  const text = iso.replace('T', ' ');
  return withMs ? text : text.replace(/\.\d{3}Z$/, 'Z');
}

export function time(iso: string | null, withMs = false): HTMLElement {
  return iso === null ? h('span', {}, '—') : h('time', { datetime: iso }, timeText(iso, withMs));
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
