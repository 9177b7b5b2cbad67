// @ts-check
import { count, el, statusBadge, timeAgo } from './format.js';

const PAGE_SIZE = 50;

/**
 * Every device of every gateway, live. The list is filtered and paged in memory, and events never re-render it
 * whole: a change to a device on the page rewrites its row, a change that can move rows (a new device, a status
 * under a status filter) recomputes the one page, and either waits for the next animation frame, so a burst of
 * events costs one paint.
 */
export class DevicesView {
  /**
   * @param {import('./api.js').Api} api
   * @param {import('./live.js').Live} live
   * @param {(error: unknown) => void} onError
   */
  constructor(api, live, onError) {
    this.api = api;
    this.live = live;
    this.onError = onError;
    /** @type {Map<string, import('./types.js').Device>} */
    this.devices = new Map();
    /** @type {Map<string, HTMLTableRowElement>} */
    this.rows = new Map();
    /** @type {Set<string>} */
    this.dirty = new Set();
    this.relayout = false;
    this.frame = 0;
    this.page = 0;
    this.filter = { text: '', status: '', gateway: '', rt: '' };
    /** @type {Array<() => void>} */
    this.cleanup = [];
    /**
     * Device events that arrived while the list was being fetched, applied on top of it once it is in: the list may
     * be older than they are (a device registering meanwhile was lost when the list replaced what they had added).
     * @type {import('./types.js').HubEvent[] | undefined}
     */
    this.whileLoading = undefined;
    this.root = el('section', { 'aria-labelledby': 'devices-title' });
  }

  /** @param {HTMLElement} container */
  async show(container) {
    container.replaceChildren(this.root);
    this.root.replaceChildren(
      el('h2', { id: 'devices-title' }, ['Devices']),
      el('p', { class: 'muted' }, ['Loading…']),
    );
    this.cleanup.push(
      this.live.onEvent((event) => this.onEvent(event)),
      this.live.subscribe('device.*'),
      this.live.subscribe('gateway.*'),
      this.live.subscribe('telemetry'),
      this.live.onReconnect(() => void this.load()),
    );
    await this.load();
  }

  hide() {
    for (const off of this.cleanup.splice(0)) off();
    cancelAnimationFrame(this.frame);
    this.frame = 0;
  }

  async load() {
    this.whileLoading = [];
    try {
      const { devices } = await this.api.devices();
      this.devices = new Map(devices.map((device) => [device.id, device]));
      const missed = this.whileLoading ?? [];
      this.whileLoading = undefined;
      // In arrival order: each event carries its device whole, so replaying them ends in the newest state.
      for (const event of missed) this.onEvent(event);
      this.build();
    } catch (err) {
      this.onError(err);
    } finally {
      this.whileLoading = undefined;
    }
  }

  /** @param {import('./types.js').HubEvent} hubEvent */
  onEvent(hubEvent) {
    if (this.whileLoading !== undefined && hubEvent.event.startsWith('device.')) this.whileLoading.push(hubEvent);
    const { event, data, ts } = hubEvent;
    if (event.startsWith('telemetry/')) {
      const device = this.devices.get(data.device);
      if (device && data.ts > device.lastSeen) {
        device.lastSeen = data.ts;
        this.mark(device.id, false);
      }
      return;
    }
    if (event === 'gateway.connected' || event === 'gateway.disconnected') {
      for (const device of this.devices.values()) {
        if (device.gateway !== data.gateway) continue;
        device.gatewayConnected = event === 'gateway.connected';
        this.mark(device.id, false);
      }
      return;
    }
    if (!event.startsWith('device.') || !data?.device) return;
    if (event === 'device.removed') {
      const id = typeof data.device === 'string' ? data.device : data.device.id;
      this.devices.delete(id);
      return this.mark(id, true);
    }
    const previous = this.devices.get(data.device.id);
    /** @type {import('./types.js').Device} */
    const device = {
      ...previous,
      ...data.device,
      gateway: data.gateway,
      gatewayConnected: true,
      statusSince: previous && previous.status === data.device.status ? previous.statusSince : (data.ts ?? ts),
      lastSeen: Math.max(previous?.lastSeen ?? 0, data.device.lastSeen ?? 0),
    };
    this.devices.set(device.id, device);
    // Only a change that can move the device on the list recomputes the page; anything else rewrites its row.
    const moves =
      !previous || previous.ep !== device.ep || (this.filter.status !== '' && previous.status !== device.status);
    this.mark(device.id, moves);
  }

  /** @param {string} id @param {boolean} relayout */
  mark(id, relayout) {
    this.dirty.add(id);
    this.relayout ||= relayout;
    this.frame ||= requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = 0;
    if (this.relayout) {
      this.relayout = false;
      this.dirty.clear();
      return this.renderPage();
    }
    for (const id of this.dirty) {
      const row = this.rows.get(id);
      const device = this.devices.get(id);
      if (row && device) this.fill(row, device);
    }
    this.dirty.clear();
    this.renderCounts();
  }

  /** The view's frame: counts, filter form, table and pager, built once per load. */
  build() {
    this.counts = el('ul', { class: 'counts', 'aria-label': 'Devices by status' });
    this.gatewaySelect = el('select', { name: 'gateway', id: 'filter-gateway' });
    const form = el('form', { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() }, [
      el('label', { for: 'filter-text' }, ['Search']),
      el('input', {
        id: 'filter-text',
        name: 'text',
        type: 'search',
        placeholder: 'ep or id',
        value: this.filter.text,
      }),
      el('label', { for: 'filter-status' }, ['Status']),
      el('select', { id: 'filter-status', name: 'status' }, [
        ...['', 'online', 'offline', 'asleep'].map((status) =>
          el('option', { value: status, selected: status === this.filter.status }, [status || 'any']),
        ),
      ]),
      el('label', { for: 'filter-gateway' }, ['Gateway']),
      this.gatewaySelect,
      el('label', { for: 'filter-rt' }, ['rt']),
      el('input', { id: 'filter-rt', name: 'rt', type: 'search', placeholder: 'resource type', value: this.filter.rt }),
    ]);
    form.addEventListener('input', () => {
      const data = new FormData(form);
      this.filter = {
        text: String(data.get('text') ?? '')
          .trim()
          .toLowerCase(),
        status: String(data.get('status') ?? ''),
        gateway: String(data.get('gateway') ?? ''),
        rt: String(data.get('rt') ?? '')
          .trim()
          .toLowerCase(),
      };
      this.page = 0;
      this.renderPage();
    });
    this.tbody = el('tbody');
    const table = el('table', { class: 'devices' }, [
      el('caption', { class: 'visually-hidden' }, ['Devices']),
      el('thead', {}, [
        el('tr', {}, [
          ...['Status', 'Endpoint', 'Id', 'Gateway', 'Address', 'Status since', 'Last seen', 'Resources'].map((h) =>
            el('th', { scope: 'col' }, [h]),
          ),
        ]),
      ]),
      this.tbody,
    ]);
    this.pager = el('nav', { class: 'pager', 'aria-label': 'Pages' });
    this.root.replaceChildren(el('h2', { id: 'devices-title' }, ['Devices']), this.counts, form, table, this.pager);
    this.renderPage();
  }

  /** @param {import('./types.js').Device} device */
  matches(device) {
    const { text, status, gateway, rt } = this.filter;
    if (status && device.status !== status) return false;
    if (gateway && device.gateway !== gateway) return false;
    if (text && !`${device.ep ?? ''} ${device.id}`.toLowerCase().includes(text)) return false;
    if (
      rt &&
      !device.resources.some((link) =>
        String(link.attrs.rt ?? '')
          .toLowerCase()
          .includes(rt),
      )
    )
      return false;
    return true;
  }

  renderPage() {
    if (!this.tbody || !this.pager) return;
    const matching = [...this.devices.values()]
      .filter((device) => this.matches(device))
      .sort((a, b) => (a.ep ?? a.id).localeCompare(b.ep ?? b.id, 'en', { numeric: true }));
    const pages = Math.max(1, Math.ceil(matching.length / PAGE_SIZE));
    this.page = Math.min(this.page, pages - 1);
    const shown = matching.slice(this.page * PAGE_SIZE, (this.page + 1) * PAGE_SIZE);
    this.rows = new Map(shown.map((device) => [device.id, this.row(device)]));
    this.tbody.replaceChildren(...this.rows.values());
    if (shown.length === 0) {
      const empty =
        this.devices.size === 0
          ? 'No devices yet: start some things (coregate thing --count 5).'
          : 'No device matches.';
      this.tbody.append(el('tr', {}, [el('td', { colspan: 8, class: 'muted' }, [empty])]));
    }
    const first = matching.length === 0 ? 0 : this.page * PAGE_SIZE + 1;
    this.pager.replaceChildren(
      el('button', { type: 'button', disabled: this.page === 0, onclick: () => this.turn(-1) }, ['Previous']),
      el('span', {}, [`${count(first)}–${count(this.page * PAGE_SIZE + shown.length)} of ${count(matching.length)}`]),
      el('button', { type: 'button', disabled: this.page >= pages - 1, onclick: () => this.turn(1) }, ['Next']),
    );
    this.renderCounts();
    this.renderGateways();
  }

  /** @param {number} step */
  turn(step) {
    this.page += step;
    this.renderPage();
  }

  renderCounts() {
    if (!this.counts) return;
    /** @type {Map<string, number>} */
    const byStatus = new Map([
      ['online', 0],
      ['offline', 0],
    ]);
    for (const device of this.devices.values()) byStatus.set(device.status, (byStatus.get(device.status) ?? 0) + 1);
    this.counts.replaceChildren(
      el('li', {}, [el('strong', {}, [count(this.devices.size)]), ' devices']),
      ...[...byStatus].map(([status, n]) =>
        el('li', { 'data-status': status }, [el('strong', {}, [count(n)]), ' ', statusBadge(status)]),
      ),
    );
  }

  renderGateways() {
    if (!this.gatewaySelect) return;
    const gateways = [...new Set([...this.devices.values()].map((device) => device.gateway))].sort();
    const current = this.filter.gateway;
    this.gatewaySelect.replaceChildren(
      el('option', { value: '' }, ['any']),
      ...gateways.map((id) => el('option', { value: id, selected: id === current }, [id])),
    );
  }

  /** @param {import('./types.js').Device} device */
  row(device) {
    return this.fill(el('tr'), device);
  }

  /**
   * Writes a device into its row, keeping the row element itself (so a change repaints one row, nothing else).
   * @param {HTMLTableRowElement} row
   * @param {import('./types.js').Device} device
   */
  fill(row, device) {
    const hrefs = device.resources.map((link) => link.href);
    row.setAttribute('data-device-id', device.id);
    row.setAttribute('data-status', device.status);
    row.replaceChildren(
      el('td', {}, [statusBadge(device.status)]),
      el('td', {}, [el('a', { href: `#/device/${encodeURIComponent(device.id)}` }, [device.ep ?? '(no ep)'])]),
      el('td', {}, [el('code', {}, [device.id])]),
      el('td', {}, [device.gateway, device.gatewayConnected ? '' : el('span', { class: 'muted' }, [' (link down)'])]),
      el('td', {}, [el('code', {}, [device.address])]),
      el('td', {}, [timeAgo(device.statusSince)]),
      el('td', {}, [timeAgo(device.lastSeen)]),
      el('td', { title: hrefs.join(' ') }, [
        hrefs.length <= 3 ? hrefs.join(' ') : `${hrefs.slice(0, 3).join(' ')} +${hrefs.length - 3}`,
      ]),
    );
    return row;
  }
}
