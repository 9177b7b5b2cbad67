// @ts-check
import { count, el, statusBadge, timeAgo } from './format.js';

/**
 * The hub's gateways (link state and since when, last seq, devices) and its webhook targets with their counts.
 * Reloaded when a gateway connects or disconnects, not on a timer.
 */
export class GatewaysView {
  /**
   * @param {import('./api.js').Api} api
   * @param {import('./live.js').Live} live
   * @param {(error: unknown) => void} onError
   */
  constructor(api, live, onError) {
    this.api = api;
    this.live = live;
    this.onError = onError;
    /** @type {Array<() => void>} */
    this.cleanup = [];
  }

  /** @param {HTMLElement} container */
  async show(container) {
    this.root = el('section', { 'aria-labelledby': 'gateways-title' }, [
      el('h2', { id: 'gateways-title' }, ['Gateways']),
    ]);
    container.replaceChildren(this.root);
    this.cleanup.push(
      this.live.subscribe('gateway.*'),
      this.live.onEvent((event) => {
        if (event.event.startsWith('gateway.')) void this.load();
      }),
      this.live.onReconnect(() => void this.load()),
    );
    await this.load();
  }

  hide() {
    for (const off of this.cleanup.splice(0)) off();
  }

  async load() {
    try {
      const [{ gateways }, { webhooks }] = await Promise.all([this.api.gateways(), this.api.webhooks()]);
      this.root?.replaceChildren(
        el('h2', { id: 'gateways-title' }, ['Gateways']),
        table(
          ['Gateway', 'Link', 'Since', 'Address', 'Last seq', 'Devices', 'Frames on this link'],
          gateways.map((gw) => [
            el('a', { href: `#/devices?gateway=${encodeURIComponent(gw.id)}` }, [gw.id]),
            statusBadge(gw.connected ? 'connected' : 'disconnected'),
            timeAgo(gw.since),
            gw.address ?? '—',
            count(gw.lastSeq),
            count(gw.devices),
            `${count(gw.received)} (${count(gw.duplicates)} resent)`,
          ]),
          'No gateway is known: configure hub.gateways.',
        ),
        el('h2', {}, ['Webhook targets']),
        table(
          ['URL', 'Delivered', 'Failed attempts', 'Dropped', 'Pending'],
          webhooks.map((hook) => [
            el('code', {}, [hook.url]),
            count(hook.delivered),
            el('span', { class: hook.failures > 0 ? 'warn' : '' }, [count(hook.failures)]),
            el('span', { class: hook.dropped > 0 ? 'error' : '' }, [count(hook.dropped)]),
            count(hook.pending),
          ]),
          'No webhook target is configured (hub.webhooks).',
        ),
      );
    } catch (err) {
      this.onError(err);
    }
  }
}

/**
 * @param {string[]} headers
 * @param {Array<Array<Node | string>>} rows
 * @param {string} empty
 */
function table(headers, rows, empty) {
  if (rows.length === 0) return el('p', { class: 'muted' }, [empty]);
  return el('table', {}, [
    el('thead', {}, [
      el(
        'tr',
        {},
        headers.map((h) => el('th', { scope: 'col' }, [h])),
      ),
    ]),
    el(
      'tbody',
      {},
      rows.map((cells) =>
        el(
          'tr',
          {},
          cells.map((cell) => el('td', {}, [cell])),
        ),
      ),
    ),
  ]);
}
