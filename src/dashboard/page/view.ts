import { type Change, type Settings } from './api.js';

/** What a view needs from the page around it. */
export interface ViewContext {
  settings: Settings;
  /** Reports an error: a missing key opens the key prompt, anything else shows in the view. */
  fail(error: unknown, where: HTMLElement): void;
  /** The view has just read its data from the service: the page shows when, and its staleness. */
  read(): void;
}

export interface View {
  element: HTMLElement;
  /** The document's title while the view shows. */
  title: string;
  /** A change from the live feed. */
  onChange(change: Change): void;
  /** The feed reconnected: reload, something may have been missed. */
  reload(): void;
  /** Called every few seconds while the view shows, for data the change feed does not carry. */
  poll?(): void;
}

/** Runs `action` at most once per `ms`, at the end of the period (live bursts cost one reload). */
export function debounce(action: () => void, ms: number): () => void {
  let timer: number | undefined;
  return () => {
    if (timer === undefined) {
      timer = window.setTimeout(() => {
        timer = undefined;
        action();
      }, ms);
    }
  };
}
