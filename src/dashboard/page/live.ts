import { type Change, storedKey } from './api.js';

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'off';

/**
 * Follows GET /changes. The browser's EventSource reconnects by itself after a dropped connection
 * and sends Last-Event-ID, so the feed replays what was missed. When the service refuses the
 * stream (EventSource then gives up), a new one is opened after a growing pause. After any
 * reconnection the views reload too: cheap, and right also when nothing could be replayed.
 */
export class LiveFeed {
  private source: EventSource | undefined;
  private retryTimer: number | undefined;
  private retryDelayMs = 1000;
  private hasBeenOpen = false;

  constructor(
    private readonly onChange: (change: Change) => void,
    private readonly onState: (state: LiveState) => void,
    /** Called after each reconnection. */
    private readonly onResync: () => void,
  ) {}

  start(): void {
    this.stop();
    const key = storedKey();
    // EventSource cannot send headers: the key goes as access_token, the one place it is in a URL.
    const url = key === null ? '/changes' : `/changes?access_token=${encodeURIComponent(key)}`;
    const source = new EventSource(url);
    this.source = source;
    this.onState('connecting');
    source.addEventListener('open', () => {
      this.retryDelayMs = 1000;
      if (this.hasBeenOpen) {
        this.onResync();
      }
      this.hasBeenOpen = true;
      this.onState('live');
    });
    source.addEventListener('command-status', (event) => {
      const data = (event as MessageEvent<string>).data;
      // A stream's first message carries only its position: nothing to show.
      if (data === '') {
        return;
      }
      const change = parseChange(data);
      if (change !== undefined) {
        this.onChange(change);
      }
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        this.source = undefined;
        this.onState('reconnecting');
        this.retryTimer = window.setTimeout(() => this.start(), this.retryDelayMs);
        this.retryDelayMs = Math.min(this.retryDelayMs * 2, 30_000);
      } else {
        this.onState('reconnecting');
      }
    });
  }

  stop(): void {
    window.clearTimeout(this.retryTimer);
    this.source?.close();
    this.source = undefined;
    this.onState('off');
  }
}

function parseChange(data: string): Change | undefined {
  try {
    const value = JSON.parse(data) as Partial<Change>;
    return typeof value.commandId === 'string' && typeof value.status === 'string'
      ? (value as Change)
      : undefined;
  } catch {
    return undefined;
  }
}
