// @ts-check
/**
 * The hub's pub/sub WebSocket (`/subscribe`, docs/api.md "Events") as the dashboard's one live source: patterns are
 * subscribed while a view needs them, events go to listeners, and a dropped socket reconnects with backoff and
 * re-subscribes (views then reload what they show, since events were missed meanwhile).
 */
export class Live {
  /**
   * @param {string} key
   * @param {(state: 'connecting' | 'open' | 'closed', detail?: string) => void} onState
   */
  constructor(key, onState) {
    this.key = key;
    this.onState = onState;
    /** @type {Map<string, number>} pattern → how many views want it */
    this.patterns = new Map();
    /** @type {Set<(event: import('./types.js').HubEvent) => void>} */
    this.listeners = new Set();
    /** @type {Set<() => void>} */
    this.reconnectListeners = new Set();
    /** @type {WebSocket | undefined} */
    this.ws = undefined;
    this.retryMs = 500;
    this.stopped = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.everOpened = false;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close(1000, 'dashboard closed');
  }

  /** @param {(event: import('./types.js').HubEvent) => void} listener @returns {() => void} */
  onEvent(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called after a reconnect: what was published while the socket was down is lost. @param {() => void} listener */
  onReconnect(listener) {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /**
   * Subscribes `pattern` until the returned function is called (patterns are shared between views).
   * @param {string} pattern
   * @returns {() => void}
   */
  subscribe(pattern) {
    const count = this.patterns.get(pattern) ?? 0;
    this.patterns.set(pattern, count + 1);
    if (count === 0) this.action('subscribe', pattern);
    return () => {
      const left = (this.patterns.get(pattern) ?? 1) - 1;
      if (left > 0) return void this.patterns.set(pattern, left);
      this.patterns.delete(pattern);
      this.action('unsubscribe', pattern);
    };
  }

  /** @param {'subscribe' | 'unsubscribe'} action @param {string} event */
  action(action, event) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ action, event }));
  }

  connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    // Browsers' WebSocket API cannot set headers: the key goes in the query, as docs/api.md allows.
    const url = `${scheme}://${location.host}/subscribe?clientName=dashboard&apiKey=${encodeURIComponent(this.key)}`;
    this.onState('connecting');
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.addEventListener('open', () => {
      this.retryMs = 500;
      this.onState('open');
      for (const pattern of this.patterns.keys()) this.action('subscribe', pattern);
      if (this.everOpened) for (const listener of this.reconnectListeners) listener();
      this.everOpened = true;
    });
    ws.addEventListener('message', (message) => {
      let event;
      try {
        event = JSON.parse(String(message.data));
      } catch {
        return;
      }
      // Confirmations ({"action": "subscribed", ...}) and errors are replies to this client, not events.
      if (typeof event?.event !== 'string' || 'action' in event || 'error' in event) return;
      for (const listener of this.listeners) listener(event);
    });
    ws.addEventListener('close', (close) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (this.stopped) return this.onState('closed');
      this.onState('closed', close.reason || `code ${close.code}`);
      this.timer = setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 15_000);
    });
  }
}
