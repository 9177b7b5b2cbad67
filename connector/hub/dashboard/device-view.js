// @ts-check
import { SeriesChart } from './chart.js';
import { SendForm } from './send-form.js';
import { el, formatValue, numberOf, statusBadge, timeAgo } from './format.js';

const MAX_EVENTS = 100;

/**
 * One device: its registration, its resources with their latest values, a live chart per numeric series, its event
 * history and a form to send it a command. Loaded from the API, then kept current by `telemetry/<id>` and the
 * device's events.
 */
export class DeviceView {
  /**
   * @param {import('./api.js').Api} api
   * @param {import('./live.js').Live} live
   * @param {import('./events-view.js').EventLog} log
   * @param {(error: unknown) => void} onError
   */
  constructor(api, live, log, onError) {
    this.api = api;
    this.live = live;
    this.log = log;
    this.onError = onError;
    /** @type {Array<() => void>} */
    this.cleanup = [];
    /** @type {Map<string, SeriesChart>} */
    this.charts = new Map();
    /** @type {Map<string, import('./types.js').Series>} */
    this.latest = new Map();
    this.id = '';
  }

  /** @param {HTMLElement} container @param {string} id */
  async show(container, id) {
    this.id = id;
    this.root = el('article', { class: 'device', 'aria-labelledby': 'device-title', 'data-device-id': id });
    container.replaceChildren(this.root);
    this.root.append(el('p', { class: 'muted' }, ['Loading…']));
    this.cleanup.push(
      this.live.onEvent((event) => this.onEvent(event)),
      this.live.subscribe(`telemetry/${id}`),
      this.live.subscribe('device.*'),
      this.live.onReconnect(() => void this.load()),
    );
    await this.load();
  }

  hide() {
    for (const off of this.cleanup.splice(0)) off();
    for (const chart of this.charts.values()) chart.destroy();
    this.charts.clear();
  }

  async load() {
    try {
      const [device, history] = await Promise.all([this.api.device(this.id), this.api.history(this.id)]);
      this.device = device;
      this.history = history;
      this.render();
    } catch (err) {
      this.onError(err);
    }
  }

  render() {
    const device = this.device;
    const history = this.history;
    if (!device || !history || !this.root) return;
    for (const chart of this.charts.values()) chart.destroy();
    this.charts.clear();
    this.latest = new Map(history.telemetry.map((series) => [series.path, series]));
    this.header = el('header', { class: 'device-header' });
    this.resourcesBody = el('tbody');
    this.chartsBox = el('div', { class: 'charts' });
    this.eventsList = el('ol', { class: 'history', reversed: true });
    const send = new SendForm(this.api, device, this.log);
    this.root.replaceChildren(
      el('p', {}, [el('a', { href: '#/devices' }, ['← All devices'])]),
      this.header,
      el('section', { 'aria-labelledby': 'registration-title' }, [
        el('h3', { id: 'registration-title' }, ['Registration']),
        this.registration(device),
      ]),
      el('section', { 'aria-labelledby': 'resources-title' }, [
        el('h3', { id: 'resources-title' }, ['Resources']),
        el('table', { class: 'resources' }, [
          el('thead', {}, [
            el(
              'tr',
              {},
              ['Path', 'rt', 'if', 'ct', 'obs', 'Latest value', 'Received'].map((h) => el('th', { scope: 'col' }, [h])),
            ),
          ]),
          this.resourcesBody,
        ]),
      ]),
      el('section', { 'aria-labelledby': 'charts-title' }, [
        el('h3', { id: 'charts-title' }, ['Telemetry, last minutes']),
        this.chartsBox,
      ]),
      el('div', { class: 'columns' }, [
        el('section', { 'aria-labelledby': 'send-title' }, [
          el('h3', { id: 'send-title' }, ['Send a command']),
          send.root,
        ]),
        el('section', { 'aria-labelledby': 'history-title' }, [
          el('h3', { id: 'history-title' }, ['Event history']),
          this.eventsList,
        ]),
      ]),
    );
    this.renderHeader();
    this.renderResources();
    for (const series of history.telemetry) this.ensureChart(series);
    if (this.charts.size === 0)
      this.chartsBox.append(el('p', { class: 'muted', id: 'no-charts' }, ['No numeric telemetry yet.']));
    this.eventsList.replaceChildren(...[...history.events].reverse().map((event) => this.eventItem(event)));
  }

  renderHeader() {
    const device = this.device;
    if (!device || !this.header) return;
    this.header.replaceChildren(
      el('h2', { id: 'device-title' }, [device.ep ?? device.id, ' ', statusBadge(device.status)]),
      el('p', { class: 'muted' }, [
        el('code', {}, [device.id]),
        ` on ${device.gateway}${device.gatewayConnected ? '' : ' (link down)'} · last seen `,
        timeAgo(device.lastSeen),
      ]),
    );
  }

  /** @param {import('./types.js').Device} device */
  registration(device) {
    const reg = device.registration;
    /** @type {Array<[string, Node | string]>} */
    const rows = [
      ['ep', device.ep ?? '—'],
      ['d', device.d ?? '—'],
      ['et', reg?.et ?? '—'],
      ['lt', reg ? `${reg.lt} s (expires ${new Date(reg.expiresAt).toLocaleString()})` : '—'],
      ['base', reg?.base ?? device.address],
      ['address', device.address],
      ['source', device.source],
      [
        'attributes',
        reg && Object.keys(reg.attrs).length > 0
          ? Object.entries(reg.attrs)
              .map(([k, v]) => (v === true ? k : `${k}=${v}`))
              .join(' ')
          : '—',
      ],
    ];
    return el(
      'dl',
      { class: 'registration' },
      rows.flatMap(([name, value]) => [el('dt', {}, [name]), el('dd', {}, [value])]),
    );
  }

  renderResources() {
    const device = this.device;
    if (!device || !this.resourcesBody) return;
    const paths = new Set(device.resources.map((/** @type {import('./types.js').Link} */ link) => link.href));
    /** @type {import('./types.js').Link[]} */
    const links = [
      ...device.resources,
      ...[...this.latest.keys()].filter((path) => !paths.has(path)).map((href) => ({ href, attrs: {} })),
    ];
    this.resourcesBody.replaceChildren(
      ...links.map((link) => {
        const latest = this.latest.get(link.href);
        const attr = (/** @type {string} */ name) => (link.attrs[name] === true ? 'yes' : (link.attrs[name] ?? ''));
        return el('tr', { 'data-path': link.href }, [
          el('td', {}, [el('code', {}, [link.href])]),
          el('td', {}, [attr('rt')]),
          el('td', {}, [attr('if')]),
          el('td', {}, [attr('ct')]),
          el('td', {}, [attr('obs')]),
          el('td', { class: 'value' }, [latest ? formatValue(latest.value, latest.encoding) : '—']),
          el('td', {}, [latest ? timeAgo(latest.ts) : '—']),
        ]);
      }),
    );
  }

  /** @param {import('./types.js').Series} series */
  ensureChart(series) {
    let chart = this.charts.get(series.path);
    if (chart) return chart;
    const numeric = numberOf(series.value);
    if (!numeric && series.points.length === 0) return undefined;
    chart = new SeriesChart(series.path, numeric?.unit ?? '', series.points);
    this.charts.set(series.path, chart);
    this.root?.querySelector('#no-charts')?.remove();
    this.chartsBox?.append(chart.figure);
    return chart;
  }

  /** @param {import('./types.js').HistoryEvent} event */
  eventItem(event) {
    return el('li', { 'data-event': event.event }, [
      el('strong', {}, [event.event.replace(/^device\./, '')]),
      ' ',
      event.status ? statusBadge(event.status) : '',
      ' ',
      timeAgo(event.ts),
    ]);
  }

  /** @param {import('./types.js').HubEvent} message */
  onEvent({ event, data }) {
    if (!this.device || !this.history) return;
    if (event === `telemetry/${this.id}`) {
      /** @type {import('./types.js').Series} */
      const series = {
        path: data.path,
        ct: data.ct,
        value: data.value,
        encoding: data.encoding,
        ts: data.ts,
        points: [],
      };
      this.latest.set(series.path, series);
      this.device.lastSeen = Math.max(this.device.lastSeen, data.ts);
      this.renderResources();
      const numeric = data.encoding ? undefined : numberOf(data.value);
      if (numeric)
        (this.charts.get(series.path) ?? this.ensureChart({ ...series, points: [] }))?.push(data.ts, numeric.number);
      return;
    }
    if (!event.startsWith('device.') || !data?.device) return;
    const id = typeof data.device === 'string' ? data.device : data.device.id;
    if (id !== this.id) return;
    if (typeof data.device === 'object') this.device = { ...this.device, ...data.device, gatewayConnected: true };
    this.renderHeader();
    if (event === 'device.registered' || event === 'device.updated') {
      const reg = this.root?.querySelector('dl.registration');
      if (reg && this.device) reg.replaceWith(this.registration(this.device));
      this.renderResources();
    }
    const item = this.eventItem({ event, ts: data.ts ?? Date.now(), status: data.device?.status });
    this.eventsList?.prepend(item);
    while ((this.eventsList?.children.length ?? 0) > MAX_EVENTS) this.eventsList?.lastElementChild?.remove();
  }
}
