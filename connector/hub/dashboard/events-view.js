// @ts-check
import { el, statusBadge, timeAgo } from './format.js';

const KEEP = 500;

/**
 * Device and gateway events as they happen, plus the results of commands sent from this page: the last 500,
 * gathered from the moment the dashboard opens, whichever view is shown.
 */
export class EventLog {
  /** @param {import('./live.js').Live} live */
  constructor(live) {
    /** @type {import('./types.js').HubEvent[]} */
    this.events = [];
    /** @type {Set<(event: import('./types.js').HubEvent) => void>} */
    this.listeners = new Set();
    live.subscribe('device.*');
    live.subscribe('gateway.*');
    // Command results published by the hub (queued commands), should it publish them.
    live.subscribe('command*');
    live.onEvent((event) => {
      if (/^(device\.|gateway\.|command)/.test(event.event)) this.add(event);
    });
  }

  /** @param {import('./types.js').HubEvent} event */
  add(event) {
    this.events.push(event);
    if (this.events.length > KEEP) this.events.shift();
    for (const listener of this.listeners) listener(event);
  }

  /** @param {(event: import('./types.js').HubEvent) => void} listener */
  onAdd(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The live events view: newest first; paused, new events wait (counted) until it resumes. */
export class EventsView {
  /** @param {EventLog} log */
  constructor(log) {
    this.log = log;
    this.paused = false;
    /** @type {import('./types.js').HubEvent[]} */
    this.waiting = [];
    /** @type {(() => void) | undefined} */
    this.off = undefined;
  }

  /** @param {HTMLElement} container */
  show(container) {
    this.list = el('ol', { class: 'events', reversed: true, 'aria-live': 'off' });
    this.pause = el('button', { type: 'button', 'aria-pressed': 'false', onclick: () => this.toggle() }, ['Pause']);
    this.note = el('span', { class: 'muted', role: 'status' });
    container.replaceChildren(
      el('section', { 'aria-labelledby': 'events-title' }, [
        el('h2', { id: 'events-title' }, ['Live events']),
        el('p', { class: 'toolbar' }, [this.pause, ' ', this.note]),
        this.list,
      ]),
    );
    this.list.replaceChildren(
      ...this.log.events
        .slice()
        .reverse()
        .map((event) => this.item(event)),
    );
    this.off = this.log.onAdd((event) => {
      if (this.paused) {
        this.waiting.push(event);
        this.noteWaiting();
      } else this.prepend([event]);
    });
  }

  hide() {
    this.off?.();
    this.paused = false;
    this.waiting = [];
  }

  toggle() {
    this.paused = !this.paused;
    this.pause?.setAttribute('aria-pressed', String(this.paused));
    if (this.pause) this.pause.textContent = this.paused ? 'Resume' : 'Pause';
    if (!this.paused) {
      this.prepend(this.waiting.splice(0));
    }
    this.noteWaiting();
  }

  noteWaiting() {
    if (this.note) this.note.textContent = this.paused ? `paused · ${this.waiting.length} new` : '';
  }

  /** @param {import('./types.js').HubEvent[]} events oldest first */
  prepend(events) {
    if (!this.list || events.length === 0) return;
    this.list.prepend(
      ...events
        .slice()
        .reverse()
        .map((event) => this.item(event)),
    );
    while (this.list.children.length > KEEP) this.list.lastElementChild?.remove();
  }

  /** @param {import('./types.js').HubEvent} event */
  item({ event, data, ts }) {
    const device = data?.device;
    const id = typeof device === 'string' ? device : device?.id;
    const who =
      typeof device === 'object' && device ? (device.ep ?? device.id) : (data?.ep ?? id ?? data?.gateway ?? '');
    /** @type {Array<Node | string>} */
    const detail = [];
    if (typeof device === 'object' && device?.status) detail.push(statusBadge(device.status));
    if (data?.reason) detail.push(`reason ${data.reason}`);
    if (event === 'command.result') {
      detail.push(
        `${data.method} ${data.path} → ${data.code ?? data.error}${data.rttMs !== undefined ? ` in ${data.rttMs} ms` : ''}`,
      );
    }
    if (event.startsWith('gateway.') && data?.address) detail.push(data.address);
    return el('li', { 'data-event': event }, [
      timeAgo(data?.ts ?? ts),
      ' ',
      el('strong', {}, [event]),
      ' ',
      id ? el('a', { href: `#/device/${encodeURIComponent(id)}` }, [who]) : who,
      ...detail.flatMap((part) => [' ', part]),
    ]);
  }
}
